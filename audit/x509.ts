// Certificates with openssl for the lab PKI and for proofs that need a throwaway
// identity (a rogue CA with look-alike names). Keys stay in files of mode 0600.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
}

const CURVE = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];

export function genKey(path: string): void {
  if (!existsSync(path)) run(['openssl', 'genpkey', ...CURVE, '-out', path]);
  run(['chmod', '0600', path]);
}

function serial(): string {
  // Positive 127-bit serial (RFC 5280: at most 20 octets, positive).
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return `0x${b.toString('hex')}`;
}

/** Issues a leaf certificate signed by the CA in `dir`. */
export function issueLeaf(dir: string, name: string, subj: string, extensions: string, days = 397,
  ca = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') }): PemPair {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  genKey(key);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  run(['openssl', 'req', '-new', '-key', key, '-subj', subj, '-out', csr]);
  run(['openssl', 'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(),
    '-days', String(days), '-sha384', '-extfile', ext, '-out', cert]);
  return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** Creates a self-signed P-384 CA in `dir` (used for the lab CA and, in tests, a rogue one). */
export function createCa(dir: string, subj: string, days = 825): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  genKey(join(dir, 'ca.key'));
  run(['openssl', 'req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-subj', subj, '-days', String(days), '-sha384',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
    '-out', join(dir, 'ca.pem')]);
}

export const CLIENT_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

