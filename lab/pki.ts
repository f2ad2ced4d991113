// The lab's PKI, made with openssl: ECDSA P-384 CA, a server certificate for the
// host's address and name, a client certificate per principal (CN = principal), and a
// CRL. One extra certificate for the app principal is issued and revoked at once so
// that the CRL is never empty and its enforcement can be proved.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caName, opensslSubj, principalName, serverCertName } from '../provisioning/pkiNames';
import { run } from './exec';
import { CLIENT_EXT, createCa, issueLeaf, PemPair } from '../audit/x509';

export { CLIENT_EXT, createCa, issueLeaf };
export type { PemPair };

export interface LabPkiSpec {
  readonly dir: string;
  readonly organization: string;
  readonly deploymentName: string;
  readonly serverName: string;
  readonly serverAddress: string;
  readonly principals: readonly string[];
  /** Principal whose extra certificate is revoked in the CRL. */
  readonly revokedProbeFor: string;
}


export interface LabPki {
  readonly caCertPem: string;
  readonly crlPem: string;
  readonly server: PemPair;
  readonly principals: Readonly<Record<string, PemPair>>;
  readonly revokedProbe: PemPair;
  /** Paths of the CA files, for tests that issue extra certificates. */
  readonly caKeyPath: string;
  readonly caCertPath: string;
  readonly caConfigPath: string;
}

function opensslCaConfig(dir: string): string {
  return [
    '[ ca ]', 'default_ca = lab_ca', '',
    '[ lab_ca ]',
    `dir = ${dir}`,
    'database = $dir/index.txt',
    'crlnumber = $dir/crlnumber',
    'certificate = $dir/ca.pem',
    'private_key = $dir/ca.key',
    'default_md = sha384',
    'default_crl_days = 30',
    '',
  ].join('\n');
}

function serverExt(spec: LabPkiSpec): string {
  return `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${spec.serverAddress},DNS:${spec.serverName}\n`;
}

function certValidFor(path: string, days: number): boolean {
  if (!existsSync(path)) return false;
  return Date.parse(new X509Certificate(readFileSync(path)).validTo) > Date.now() + days * 86400_000;
}

/** Creates what is missing or about to expire; reuses everything else (idempotent). */
export function ensureLabPki(spec: LabPkiSpec): LabPki {
  const dir = spec.dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = join(dir, 'ca.pem');
  const cfg = join(dir, 'ca.cnf');
  if (!certValidFor(caCert, 30)) {
    createCa(dir, opensslSubj(caName(spec.organization, spec.deploymentName)));
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'crlnumber'), '1000\n');
    for (const f of ['server', ...spec.principals, 'revoked-probe']) {
      for (const ext of ['pem', 'key']) run(['rm', '-f', join(dir, `${f}.${ext}`)]);
    }
  }
  writeFileSync(cfg, opensslCaConfig(dir));

  const serverPem = join(dir, 'server.pem');
  const serverMatches = existsSync(serverPem) &&
    (new X509Certificate(readFileSync(serverPem)).subjectAltName ?? '').includes(`IP Address:${spec.serverAddress}`);
  if (!serverMatches || !certValidFor(serverPem, 14)) {
    issueLeaf(dir, 'server', opensslSubj(serverCertName(spec.organization, spec.serverName)), serverExt(spec));
  }
  const principals: Record<string, PemPair> = {};
  for (const p of spec.principals) {
    if (!certValidFor(join(dir, `${p}.pem`), 14)) issueLeaf(dir, p, opensslSubj(principalName(spec.organization, p)), CLIENT_EXT);
    principals[p] = { certPem: readFileSync(join(dir, `${p}.pem`), 'utf8'), keyPem: readFileSync(join(dir, `${p}.key`), 'utf8') };
  }
  const probe = join(dir, 'revoked-probe.pem');
  if (!existsSync(probe)) {
    issueLeaf(dir, 'revoked-probe', opensslSubj(principalName(spec.organization, spec.revokedProbeFor)), CLIENT_EXT);
    run(['openssl', 'ca', '-config', cfg, '-revoke', probe, '-crl_reason', 'keyCompromise'], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const crl = join(dir, 'crl.pem');
  if (!existsSync(crl) || crlExpiresWithin(crl, 7)) {
    run(['openssl', 'ca', '-config', cfg, '-gencrl', '-out', crl], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  return {
    caCertPem: readFileSync(caCert, 'utf8'),
    crlPem: readFileSync(crl, 'utf8'),
    server: { certPem: readFileSync(serverPem, 'utf8'), keyPem: readFileSync(join(dir, 'server.key'), 'utf8') },
    principals,
    revokedProbe: { certPem: readFileSync(probe, 'utf8'), keyPem: readFileSync(join(dir, 'revoked-probe.key'), 'utf8') },
    caKeyPath: join(dir, 'ca.key'), caCertPath: caCert, caConfigPath: cfg,
  };
}

function crlExpiresWithin(path: string, days: number): boolean {
  const out = run(['openssl', 'crl', '-in', path, '-noout', '-nextupdate']).stdout;
  const next = Date.parse(out.replace(/^nextUpdate=/, '').trim());
  return !Number.isFinite(next) || next < Date.now() + days * 86400_000;
}
