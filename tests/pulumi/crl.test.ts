// The CRL encoder/signer: openssl accepts what it produces, it lists what it is told
// to, it is byte-stable within a refresh window, and it refuses a key that is not the CA's.
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCrlPem, crlWindow, signP384Deterministic } from '../../components/crl';

let dir: string;
const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

function makeCa(name: string, ski = true): { cert: string; key: string; certPath: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  expect(openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', key).status).toBe(0);
  const ext = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', ...(ski ? ['-addext', 'subjectKeyIdentifier=hash'] : ['-addext', 'subjectKeyIdentifier=none'])];
  expect(openssl('req', '-x509', '-new', '-key', key, '-subj', `/O=ztmysql/CN=${name} ztmysql CA`, '-days', '30', '-sha384', ...ext, '-out', cert).status).toBe(0);
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8'), certPath: cert };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ztmysql-crl-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('openssl verifies the CRL against the CA (with and without a subjectKeyIdentifier on the CA)', () => {
  for (const [name, ski] of [['ca1', true], ['ca2', false]] as const) {
    const ca = makeCa(name, ski);
    const path = join(dir, `${name}.crl`);
    writeFileSync(path, buildCrlPem({ caCertPem: ca.cert, caKeyPem: ca.key }));
    const r = openssl('crl', '-in', path, '-CAfile', ca.certPath, '-noout');
    expect(r.stderr.trim()).toBe('verify OK');
    expect(r.status).toBe(0);
  }
});

test('revoked serials and the window dates appear in the CRL as openssl reads it', () => {
  const ca = makeCa('ca3');
  const now = new Date('2026-03-04T12:00:00Z');
  const path = join(dir, 'ca3.crl');
  writeFileSync(path, buildCrlPem({ caCertPem: ca.cert, caKeyPem: ca.key, now, revoked: [{ serial: '0x0abc', revokedAt: new Date('2026-01-02T03:04:05Z') }, { serial: '7f:01', revokedAt: new Date('2026-02-01T00:00:00Z') }] }));
  const text = openssl('crl', '-in', path, '-noout', '-text').stdout;
  expect(text).toMatch(/Serial Number: 0ABC\s+Revocation Date: Jan {2}2 03:04:05 2026 GMT/);
  expect(text).toMatch(/Serial Number: 7F01/);
  expect(text).toContain('Issuer: O = ztmysql, CN = ca3 ztmysql CA');
  const { thisUpdate, nextUpdate } = crlWindow({ now });
  expect(thisUpdate.getTime()).toBeLessThanOrEqual(now.getTime());
  expect(nextUpdate.getTime() - thisUpdate.getTime()).toBe(30 * 86_400_000);
  const last = openssl('crl', '-in', path, '-noout', '-lastupdate').stdout.replace('lastUpdate=', '').trim();
  const next = openssl('crl', '-in', path, '-noout', '-nextupdate').stdout.replace('nextUpdate=', '').trim();
  expect(Date.parse(last)).toBe(thisUpdate.getTime());
  expect(Date.parse(next)).toBe(nextUpdate.getTime());
});

test('byte-stable within a window (no diff on every preview), new bytes and a higher CRL number in the next', () => {
  const ca = makeCa('ca4');
  const t = new Date('2026-03-04T12:00:00Z');
  const a = buildCrlPem({ caCertPem: ca.cert, caKeyPem: ca.key, now: t });
  const b = buildCrlPem({ caCertPem: ca.cert, caKeyPem: ca.key, now: new Date(t.getTime() + 3600_000) });
  const c = buildCrlPem({ caCertPem: ca.cert, caKeyPem: ca.key, now: new Date(t.getTime() + 8 * 86_400_000) });
  expect(a).toBe(b);
  expect(c).not.toBe(a);
  expect(crlWindow({ now: new Date(t.getTime() + 8 * 86_400_000) }).crlNumber).toBeGreaterThan(crlWindow({ now: t }).crlNumber);
});

test('the deterministic ECDSA signature verifies with node:crypto and differs per message', () => {
  const ca = makeCa('ca5');
  const s1 = signP384Deterministic(Buffer.from('one'), ca.key);
  const s2 = signP384Deterministic(Buffer.from('two'), ca.key);
  expect(verify('sha384', Buffer.from('one'), { key: createPublicKey(ca.cert), dsaEncoding: 'der' }, s1)).toBe(true);
  expect(verify('sha384', Buffer.from('two'), { key: createPublicKey(ca.cert), dsaEncoding: 'der' }, s1)).toBe(false);
  expect(s1.equals(s2)).toBe(false);
  expect(signP384Deterministic(Buffer.from('one'), ca.key).equals(s1)).toBe(true);
});

test('a key that is not the CA\'s is refused instead of producing an unverifiable CRL', () => {
  const ca = makeCa('ca6');
  const other = makeCa('ca7');
  expect(() => buildCrlPem({ caCertPem: ca.cert, caKeyPem: other.key })).toThrow(/does not verify against the CA certificate/);
});
