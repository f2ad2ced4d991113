// The stack body: validated config -> components -> outputs in the DESIGN.md shape.
// index.ts reads the config and calls deployStack(); tests call it under setMocks.
import * as pulumi from '@pulumi/pulumi';
import * as gcp from '@pulumi/gcp';
import * as random from '@pulumi/random';
import * as tls from '@pulumi/tls';
import { PKI_INPUTS } from '../provisioning/steps/pki';
import { passwordInput } from '../provisioning/steps/accounts';
import { PrincipalRole } from '../provisioning/settings';
import { RawStackConfig, StackConfig, StackConfigError, provisioningSettings, validateStackConfig } from './config';
import { Kms } from './kms';
import { WormArchive } from './wormArchive';
import { MysqlHost, renderBootWaitCommand } from './mysqlHost';
import { Pki } from './pki';
import { HostProvisioning, PASSWORD_ARGS } from './hostProvisioning';
import { PublishedHostKey } from './hostKey';

/** GCP resource-name stem from the deployment name: lowercase, dashes, short. */
export function resourceBase(deploymentName: string): string {
  const slug = deploymentName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 14).replace(/-+$/, '');
  return `zt-${slug || 'db'}`;
}

export interface StackNames {
  readonly base: string;
  readonly bucket: string;
  readonly keyRing: string;
}

/** Names derived from the config; throws (before any resource exists) if one would be invalid. */
export function stackNames(cfg: StackConfig, stack: string): StackNames {
  const base = resourceBase(cfg.deploymentName);
  const bucket = `${cfg.project}-${base}-anchors`;
  const problems: string[] = [];
  if (bucket.length > 63) problems.push(`bucket name ${bucket} is longer than 63 characters; shorten deploymentName`);
  if (/google|^goog/.test(bucket)) problems.push(`bucket name ${bucket} may not contain "google"`);
  if (problems.length) throw new StackConfigError(problems);
  return { base, bucket, keyRing: `${base}-${stack}`.slice(0, 63) };
}

export interface PrincipalOutput {
  readonly user: string;
  readonly role: PrincipalRole;
  readonly certPem: pulumi.Output<string>;
  readonly keyPem: pulumi.Output<string>;
  readonly password: pulumi.Output<string>;
}

export interface StackOutputs {
  readonly host: pulumi.Output<string>;
  readonly port: number;
  readonly database: string;
  readonly serverName: string;
  readonly caCertPem: pulumi.Output<string>;
  readonly crlPem: pulumi.Output<string>;
  readonly principals: Readonly<Record<string, PrincipalOutput>>;
  readonly kms: { readonly provider: 'gcp'; readonly keyName: pulumi.Output<string>; readonly protectionLevel: 'HSM'; readonly mlKemKeyName?: pulumi.Output<string> };
  readonly anchors: { readonly source: pulumi.Output<string> };
  readonly ssh: { readonly host: pulumi.Output<string>; readonly port: number; readonly user: string; readonly privateKeyPath: string; readonly hostKey: pulumi.Output<string> };
  /** Secret: the deploy key, for operators (`pulumi stack output --show-secrets sshPrivateKey`). */
  readonly sshPrivateKey: pulumi.Output<string>;
  readonly provisioned: pulumi.Output<string>;
}

/**
 * Principal outputs keyed by principal name, plus an alias under each role name that no
 * principal uses as its name, so the client's principals.app / principals.auditor exist.
 */
export function principalKeys(principals: readonly { name: string; role: PrincipalRole }[]): Map<string, string> {
  const keys = new Map<string, string>(principals.map((p) => [p.name, p.name]));
  for (const role of ['owner', 'app', 'auditor'] as const) {
    const first = principals.find((p) => p.role === role);
    if (first && !keys.has(role)) keys.set(role, first.name);
  }
  return keys;
}

export function deployStack(raw: RawStackConfig, stack = pulumi.getStack()): StackOutputs {
  // Everything that can be wrong with the config fails here, before any resource exists.
  const cfg = validateStackConfig(raw);
  const names = stackNames(cfg, stack);
  const settings = provisioningSettings(cfg);
  const labels = { app: 'ztmysql', environment: cfg.environment, deployment: names.base };

  const projectNumber = gcp.organizations.getProjectOutput({ projectId: cfg.project }).number;
  const computeAgent = pulumi.interpolate`serviceAccount:service-${projectNumber}@compute-system.iam.gserviceaccount.com`;
  const storageAgent = pulumi.interpolate`serviceAccount:service-${projectNumber}@gs-project-accounts.iam.gserviceaccount.com`;

  const kms = new Kms('kms', {
    project: cfg.project, location: cfg.kmsLocation, keyRingName: names.keyRing,
    rotationDays: cfg.kmsRotationDays, dataKeyUsers: [...cfg.appIdentities],
    infraKeyUsers: cfg.archiveCmek ? [computeAgent, storageAgent] : [computeAgent],
    unprotectKeys: cfg.unprotectKmsKeys, mlKemKey: cfg.mlKemKey, labels,
  });

  const archive = new WormArchive('anchors', {
    project: cfg.project, projectId: cfg.project, location: cfg.region, bucketName: names.bucket,
    retentionDays: cfg.retentionDays, retentionLocked: cfg.retentionLocked,
    kmsKeyName: cfg.archiveCmek ? kms.infraKeyName : undefined, kmsReady: [kms.infraKeyBinding], labels,
  });

  const deployKey = new tls.PrivateKey('deploy-ssh-key', { algorithm: 'ED25519' });
  const host = new MysqlHost('db', {
    project: cfg.project, region: cfg.region, zone: cfg.zone, name: names.base,
    subnetCidr: cfg.subnetCidr, hostAddress: cfg.hostAddress,
    clientRanges: [...cfg.clientRanges], deployRanges: [...cfg.deployRanges],
    machineType: cfg.machineType, diskKmsKeyName: kms.infraKeyName,
    confidentialCompute: cfg.confidentialCompute, allowExternalIp: cfg.allowExternalIp,
    deletionProtection: cfg.deletionProtection,
    deployServiceAccount: cfg.deployServiceAccount, deployPublicKey: deployKey.publicKeyOpenssh, labels,
    kmsReady: [kms.infraKeyBinding],
  });

  const principalNames = cfg.principals.map((p) => p.name);
  const pki = new Pki('pki', {
    organization: cfg.organization, deploymentName: cfg.deploymentName, serverName: cfg.serverName,
    serverAddress: host.privateIp, principals: principalNames, leafValidityDays: cfg.certValidityDays,
    revoked: cfg.revokedSerials.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt) })),
    crlRefreshDays: cfg.crlRefreshDays,
  });

  const passwords: Record<string, pulumi.Output<string>> = {};
  for (const p of principalNames) passwords[p] = new random.RandomPassword(`password-${p}`, PASSWORD_ARGS).result;

  const hostKey = cfg.hostKey !== undefined
    ? pulumi.output(cfg.hostKey)
    : new PublishedHostKey('host-key', {
      project: cfg.project, zone: cfg.zone, instanceName: host.instanceName, instanceId: host.instance.instanceId,
    }).hostKey;

  const inputs: Record<string, pulumi.Input<string>> = {
    [PKI_INPUTS.caCert]: pki.caCertPem,
    [PKI_INPUTS.serverCert]: pki.server.certPem,
    [PKI_INPUTS.serverKey]: pki.server.keyPem,
    [PKI_INPUTS.crl]: pki.crlPem,
  };
  for (const p of principalNames) inputs[passwordInput(p)] = passwords[p];

  const provisioning = new HostProvisioning('provision', {
    settings,
    connection: { host: host.privateIp, user: cfg.deployPosixUser, privateKey: deployKey.privateKeyOpenssh, hostKey },
    inputs,
    preflightCommand: renderBootWaitCommand(host.startupScript),
    waitFor: host.sshReady,
  });

  const principals: Record<string, PrincipalOutput> = {};
  for (const [key, name] of principalKeys(cfg.principals)) {
    const spec = cfg.principals.find((p) => p.name === name)!;
    principals[key] = {
      user: name, role: spec.role,
      certPem: pki.clients[name].certPem,
      keyPem: pulumi.secret(pki.clients[name].keyPem),
      password: pulumi.secret(passwords[name]),
    };
  }

  return {
    host: host.privateIp,
    port: 3306,
    database: cfg.database,
    serverName: cfg.serverName,
    caCertPem: pki.caCertPem,
    crlPem: pki.crlPem,
    principals,
    kms: { provider: 'gcp', keyName: kms.dataKeyName, protectionLevel: 'HSM', ...(kms.mlKemKey ? { mlKemKeyName: kms.mlKemKey.id } : {}) },
    anchors: { source: archive.anchorsSource },
    ssh: { host: host.privateIp, port: 22, user: cfg.deployPosixUser, privateKeyPath: `~/.ssh/ztmysql-${stack}`, hostKey },
    sshPrivateKey: pulumi.secret(deployKey.privateKeyOpenssh),
    provisioned: provisioning.done,
  };
}
