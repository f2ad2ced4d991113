// Pki: the deployment's certificate authority, kept entirely in Pulumi state (private
// keys are secret outputs). ECDSA P-384 CA, a server certificate naming the host's
// address and DNS name, one client certificate per principal, and a CRL signed by the
// CA (components/crl.ts, since @pulumi/tls cannot sign CRLs). Subjects come from
// provisioning/pkiNames.ts, the same functions the lab's openssl PKI and the MySQL
// accounts' REQUIRE SUBJECT/ISSUER use.
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { DistinguishedName, caName, principalName, serverCertName } from '../provisioning/pkiNames';
import { buildCrlPem, RevokedCertificate } from './crl';

export const CA_USES = ['cert_signing', 'crl_signing'];
export const SERVER_USES = ['digital_signature', 'server_auth'];
export const CLIENT_USES = ['digital_signature', 'client_auth'];

export interface PkiArgs {
  readonly organization: string;
  readonly deploymentName: string;
  /** DNS name in the server certificate (clients verify it). */
  readonly serverName: string;
  /** The host's address, an IP SAN of the server certificate. */
  readonly serverAddress: pulumi.Input<string>;
  /** One client certificate per principal name (CN = name). */
  readonly principals: readonly string[];
  /** Leaf validity in days (default 397); renewed on `pulumi up` within the last 30 days. */
  readonly leafValidityDays?: number;
  /** CA validity in days (default 3650). */
  readonly caValidityDays?: number;
  /** Certificates to list in the CRL. */
  readonly revoked?: readonly RevokedCertificate[];
  /** CRL re-issue window in days (default 7); the CRL is valid 30 days. */
  readonly crlRefreshDays?: number;
}

export interface IssuedCert {
  readonly certPem: pulumi.Output<string>;
  /** Secret. */
  readonly keyPem: pulumi.Output<string>;
}

const subject = (dn: DistinguishedName) => ({ organization: dn.organization, commonName: dn.commonName });

export class Pki extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  /** Secret. */
  readonly caKeyPem: pulumi.Output<string>;
  readonly crlPem: pulumi.Output<string>;
  readonly server: IssuedCert;
  readonly clients: Readonly<Record<string, IssuedCert>>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:pki:Pki', name, {}, opts);
    const child = { parent: this };
    const leafHours = (args.leafValidityDays ?? 397) * 24;
    const key = (n: string) => new tls.PrivateKey(n, { algorithm: 'ECDSA', ecdsaCurve: 'P384' }, child);

    const caKey = key(`${name}-ca-key`);
    const ca = new tls.SelfSignedCert(`${name}-ca`, {
      privateKeyPem: caKey.privateKeyPem,
      subject: subject(caName(args.organization, args.deploymentName)),
      isCaCertificate: true,
      allowedUses: CA_USES,
      validityPeriodHours: (args.caValidityDays ?? 3650) * 24,
      earlyRenewalHours: 90 * 24,
      setSubjectKeyId: true,
    }, child);

    const issue = (id: string, dn: DistinguishedName, uses: string[], sans?: { ipAddresses: pulumi.Input<string>[]; dnsNames: string[] }): IssuedCert => {
      const k = key(`${name}-${id}-key`);
      const csr = new tls.CertRequest(`${name}-${id}-csr`, {
        privateKeyPem: k.privateKeyPem, subject: subject(dn),
        ipAddresses: sans?.ipAddresses, dnsNames: sans?.dnsNames,
      }, child);
      const cert = new tls.LocallySignedCert(`${name}-${id}`, {
        certRequestPem: csr.certRequestPem, caPrivateKeyPem: caKey.privateKeyPem, caCertPem: ca.certPem,
        allowedUses: uses, validityPeriodHours: leafHours, earlyRenewalHours: 30 * 24,
        isCaCertificate: false, setSubjectKeyId: true,
      }, child);
      return { certPem: cert.certPem, keyPem: pulumi.secret(k.privateKeyPem) };
    };

    this.server = issue('server', serverCertName(args.organization, args.serverName), SERVER_USES,
      { ipAddresses: [args.serverAddress], dnsNames: [args.serverName] });
    const clients: Record<string, IssuedCert> = {};
    for (const p of args.principals) clients[p] = issue(`client-${p}`, principalName(args.organization, p), CLIENT_USES);
    this.clients = clients;

    this.caCertPem = ca.certPem;
    this.caKeyPem = pulumi.secret(caKey.privateKeyPem);
    // A CRL is public: computed with the (secret) CA key, then explicitly unsecreted.
    this.crlPem = pulumi.unsecret(pulumi.all([ca.certPem, caKey.privateKeyPem]).apply(([caCertPem, caKeyPem]) =>
      buildCrlPem({ caCertPem, caKeyPem, revoked: args.revoked, refreshDays: args.crlRefreshDays })));

    this.registerOutputs({ caCertPem: this.caCertPem, crlPem: this.crlPem, serverCertPem: this.server.certPem });
  }
}
