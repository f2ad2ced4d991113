// Kms: an HSM-backed key ring with two symmetric keys and, optionally, an ML-KEM-768 key.
//
//   data key   wraps the application's per-tenant DEKs (client/). Only the listed app
//              identities may encrypt/decrypt with it.
//   infra key  CMEK for the VM's boot disk and the WORM bucket. Only the Google service
//              agents that need it (Compute Engine, Cloud Storage) may use it.
//
// Two keys instead of one: a service agent that can decrypt the boot disk has no
// business unwrapping tenant DEKs, and an app identity none decrypting disks.
// IAM uses CryptoKeyIAMBinding (authoritative for the role on the key), so an extra
// member added out of band is removed on the next `pulumi up`.
import * as pulumi from '@pulumi/pulumi';
import * as gcp from '@pulumi/gcp';

export const ENCRYPTER_DECRYPTER = 'roles/cloudkms.cryptoKeyEncrypterDecrypter';

export interface KmsArgs {
  readonly project: pulumi.Input<string>;
  /** KMS location (a region, or "global"); HSM keys need a location that offers Cloud HSM. */
  readonly location: pulumi.Input<string>;
  readonly keyRingName: pulumi.Input<string>;
  /** Rotation period of both symmetric keys, in days. Default 90. */
  readonly rotationDays?: number;
  /** IAM members allowed to encrypt/decrypt with the data key (the app identities). At least one. */
  readonly dataKeyUsers: pulumi.Input<pulumi.Input<string>[]>;
  /** IAM members allowed to use the infra key: the service agents for disk and bucket CMEK. */
  readonly infraKeyUsers: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Unsafe: registers the keys without `protect`, so `pulumi destroy` can schedule their
   * destruction (and with it, every DEK they wrap). For throwaway dev stacks only.
   */
  readonly unprotectKeys?: boolean;
  /** Also create an ML-KEM-768 key-encapsulation key (KEY_ENCAPSULATION, HSM). */
  readonly mlKemKey?: boolean;
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** "90" days -> "7776000s", the Duration form the KMS API takes. */
export function rotationPeriod(days: number): string {
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new Error(`KMS rotation period ${days} days must be 1..365`);
  return `${days * 86_400}s`;
}

/** The symmetric key template every ztmysql key uses: Google symmetric encryption in an HSM. */
export const SYMMETRIC_HSM_TEMPLATE = { algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', protectionLevel: 'HSM' } as const;

export class Kms extends pulumi.ComponentResource {
  readonly keyRing: gcp.kms.KeyRing;
  readonly dataKey: gcp.kms.CryptoKey;
  readonly infraKey: gcp.kms.CryptoKey;
  readonly mlKemKey?: gcp.kms.CryptoKey;
  /** The IAM bindings; CMEK users must be created after infraKeyBinding. */
  readonly dataKeyBinding: gcp.kms.CryptoKeyIAMBinding;
  readonly infraKeyBinding: gcp.kms.CryptoKeyIAMBinding;
  /** Full resource name of the data key (projects/.../cryptoKeys/...), for the client SDK. */
  readonly dataKeyName: pulumi.Output<string>;
  /** Full resource name of the infra key, for kmsKeySelfLink and bucket default encryption. */
  readonly infraKeyName: pulumi.Output<string>;

  constructor(name: string, args: KmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:kms:Kms', name, {}, opts);
    const protect = args.unprotectKeys !== true;
    const period = rotationPeriod(args.rotationDays ?? 90);

    this.keyRing = new gcp.kms.KeyRing(`${name}-ring`, {
      project: args.project, location: args.location, name: args.keyRingName,
    }, { parent: this, protect });

    const symmetric = (suffix: string, keyName: string): gcp.kms.CryptoKey => new gcp.kms.CryptoKey(`${name}-${suffix}`, {
      name: keyName,
      keyRing: this.keyRing.id,
      purpose: 'ENCRYPT_DECRYPT',
      versionTemplate: { ...SYMMETRIC_HSM_TEMPLATE },
      rotationPeriod: period,
      // Destroyed versions stay recoverable for 30 days.
      destroyScheduledDuration: '2592000s',
      labels: args.labels,
    }, { parent: this, protect });

    this.dataKey = symmetric('data', 'ztmysql-data');
    this.infraKey = symmetric('infra', 'ztmysql-infra');

    this.dataKeyBinding = new gcp.kms.CryptoKeyIAMBinding(`${name}-data-users`, {
      cryptoKeyId: this.dataKey.id, role: ENCRYPTER_DECRYPTER, members: args.dataKeyUsers,
    }, { parent: this });
    this.infraKeyBinding = new gcp.kms.CryptoKeyIAMBinding(`${name}-infra-users`, {
      cryptoKeyId: this.infraKey.id, role: ENCRYPTER_DECRYPTER, members: args.infraKeyUsers,
    }, { parent: this });

    if (args.mlKemKey) {
      // @pulumi/gcp 9.37 types `purpose` and `algorithm` as free strings, so these values
      // compile; whether the provider plugin accepts them cannot be checked here (no plugin).
      this.mlKemKey = new gcp.kms.CryptoKey(`${name}-mlkem`, {
        name: 'ztmysql-mlkem768',
        keyRing: this.keyRing.id,
        purpose: 'KEY_ENCAPSULATION',
        versionTemplate: { algorithm: 'ML_KEM_768', protectionLevel: 'HSM' },
        destroyScheduledDuration: '2592000s',
        labels: args.labels,
      }, { parent: this, protect });
    }

    this.dataKeyName = this.dataKey.id;
    this.infraKeyName = this.infraKey.id;
    this.registerOutputs({ dataKeyName: this.dataKeyName, infraKeyName: this.infraKeyName, mlKemKeyName: this.mlKemKey?.id });
  }
}
