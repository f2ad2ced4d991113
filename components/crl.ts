// X.509 v2 CRLs (RFC 5280 §5) signed by the ztmysql CA, without leaving Pulumi.
//
// @pulumi/tls cannot sign a CRL, and the CA key must stay inside Pulumi state (a
// secret), so this module encodes the CRL in DER itself and signs it with
// ECDSA P-384 / SHA-384 using the CA key it is given.
//
// Determinism matters here: the CRL is computed inside an apply on every preview and
// update. Node's ECDSA uses a random nonce, so a CRL signed with it would differ on
// every run and the `pki` step would show a diff (and re-run) on every deployment.
// The signature therefore uses RFC 6979 deterministic nonces; thisUpdate is aligned to
// a refresh window, so the same CA, revocation list and window always give the same
// bytes. A new window (default: weekly) issues a fresh CRL on the next `pulumi up`.
//
// The arithmetic below is plain BigInt and not constant-time: it runs once per
// deployment on the deploying machine, which holds the CA key in memory anyway.
import { createHash, createHmac, createPrivateKey, createPublicKey, verify as nodeVerify, X509Certificate } from 'node:crypto';

// ---------------------------------------------------------------------------
// DER encoding

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);

function bigToBytes(v: bigint, size?: number): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  if (size === undefined) return b;
  if (b.length > size) throw new Error('integer too large');
  return Buffer.concat([Buffer.alloc(size - b.length), b]);
}

export function derInteger(v: bigint): Buffer {
  if (v < 0n) throw new Error('negative integers are not used here');
  let b = v === 0n ? Buffer.from([0]) : bigToBytes(v);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function derOid(oid: string): Buffer {
  const parts = oid.split('.').map((p) => BigInt(p));
  const out: number[] = [Number(parts[0] * 40n + parts[1])];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [];
    let v = part;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Z. */
export function derTime(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`date ${iso} out of range`);
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

// ---------------------------------------------------------------------------
// Minimal DER reading (enough to take the issuer Name and key identifier from the CA)

interface Node {
  readonly tag: number;
  /** The whole TLV. */
  readonly raw: Buffer;
  readonly content: Buffer;
}

function readNode(buf: Buffer, offset: number): Node & { next: number } {
  const tag = buf[offset];
  let len = buf[offset + 1];
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end), next: end };
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let off = 0; off < node.content.length;) {
    const c = readNode(node.content, off);
    out.push(c);
    off = c.next;
  }
  return out;
}

const OID_SKI = derOid('2.5.29.14');

/** The CA's subject Name (DER, exactly as encoded in the certificate) and its subjectKeyIdentifier. */
export function caIdentity(caCertPem: string): { subjectDer: Buffer; keyId?: Buffer } {
  const der = new X509Certificate(caCertPem).raw;
  const tbs = children(readNode(der, 0))[0];
  const fields = children(tbs);
  let i = fields[0].tag === 0xa0 ? 1 : 0; // [0] version
  i += 3; // serialNumber, signature, issuer
  i += 1; // validity
  const subjectDer = Buffer.from(fields[i].raw);
  let keyId: Buffer | undefined;
  const extField = fields.find((f) => f.tag === 0xa3);
  if (extField) {
    for (const ext of children(children(extField)[0])) {
      const parts = children(ext);
      if (parts[0].raw.equals(OID_SKI)) {
        const value = parts[parts.length - 1].content; // OCTET STRING holding an OCTET STRING
        keyId = Buffer.from(readNode(value, 0).content);
      }
    }
  }
  return { subjectDer, keyId };
}

// ---------------------------------------------------------------------------
// ECDSA P-384 with RFC 6979 nonces

const P = 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n;
const A = P - 3n;
const N = BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973');
const G: Point = {
  x: BigInt('0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7'),
  y: BigInt('0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f'),
};

interface Point { readonly x: bigint; readonly y: bigint }

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return mod(s0, m);
}

function add(p: Point | null, q: Point | null): Point | null {
  if (!p) return q;
  if (!q) return p;
  let l: bigint;
  if (p.x === q.x) {
    if (mod(p.y + q.y, P) === 0n) return null;
    l = mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P);
  } else {
    l = mod((q.y - p.y) * inv(q.x - p.x, P), P);
  }
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}

function multiply(k: bigint, p: Point): Point {
  let r: Point | null = null;
  let q: Point | null = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, q);
    q = add(q, q);
  }
  if (!r) throw new Error('point at infinity');
  return r;
}

const hmac = (key: Buffer, ...data: Buffer[]): Buffer => createHmac('sha384', key).update(Buffer.concat(data)).digest();
const toInt = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);

/** ECDSA-SHA384 over P-384 with an RFC 6979 (§3.2) nonce; returns the DER Ecdsa-Sig-Value. */
export function signP384Deterministic(message: Buffer, privateKeyPem: string): Buffer {
  const jwk = createPrivateKey(privateKeyPem).export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-384' || !jwk.d) throw new Error('the CA key must be an ECDSA P-384 private key');
  const d = toInt(Buffer.from(jwk.d, 'base64url'));
  const h1 = createHash('sha384').update(message).digest();
  const e = toInt(h1); // qlen == hlen == 384: bits2int is the plain integer
  const x = bigToBytes(d, 48);
  const h1o = bigToBytes(mod(e, N), 48);
  let V: Buffer = Buffer.alloc(48, 0x01);
  let K: Buffer = Buffer.alloc(48, 0x00);
  K = hmac(K, V, Buffer.from([0]), x, h1o);
  V = hmac(K, V);
  K = hmac(K, V, Buffer.from([1]), x, h1o);
  V = hmac(K, V);
  for (;;) {
    V = hmac(K, V);
    const k = toInt(V);
    if (k >= 1n && k < N) {
      const r = mod(multiply(k, G).x, N);
      const s = mod(inv(k, N) * (e + r * d), N);
      if (r !== 0n && s !== 0n) return seq(derInteger(r), derInteger(s));
    }
    K = hmac(K, V, Buffer.from([0]));
    V = hmac(K, V);
  }
}

// ---------------------------------------------------------------------------
// The CRL

export interface RevokedCertificate {
  /** Certificate serial number, hex (with or without 0x and colons). */
  readonly serial: string;
  readonly revokedAt: Date;
}

export interface CrlSpec {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly revoked?: readonly RevokedCertificate[];
  /** Time the CRL is computed at (default: now). thisUpdate is this, aligned down to the window. */
  readonly now?: Date;
  /** Re-issue window; the CRL is byte-stable within one window (default 7 days). */
  readonly refreshDays?: number;
  /** nextUpdate - thisUpdate (default 30 days); must exceed refreshDays so a weekly deploy never lets it lapse. */
  readonly validityDays?: number;
}

const DAY = 86_400_000;
const ECDSA_SHA384 = seq(derOid('1.2.840.10045.4.3.3'));

export function parseSerial(serial: string): bigint {
  const hex = serial.replace(/^0x/i, '').replace(/:/g, '');
  if (!/^[0-9a-fA-F]{1,40}$/.test(hex)) throw new Error(`serial ${JSON.stringify(serial)} is not a hex certificate serial`);
  return BigInt(`0x${hex}`);
}

export function crlWindow(spec: Pick<CrlSpec, 'now' | 'refreshDays' | 'validityDays'>): { thisUpdate: Date; nextUpdate: Date; crlNumber: bigint } {
  const refresh = (spec.refreshDays ?? 7) * DAY;
  const validity = (spec.validityDays ?? 30) * DAY;
  if (!(refresh > 0) || !(validity > refresh)) throw new Error('CRL validity must be longer than the refresh window');
  const now = (spec.now ?? new Date()).getTime();
  const start = Math.floor(now / refresh) * refresh;
  // The CRL number must increase with every new CRL: the window index does.
  return { thisUpdate: new Date(start), nextUpdate: new Date(start + validity), crlNumber: BigInt(Math.floor(now / refresh)) };
}

/** The DER-encoded CRL. */
export function buildCrlDer(spec: CrlSpec): Buffer {
  const { subjectDer, keyId } = caIdentity(spec.caCertPem);
  const { thisUpdate, nextUpdate, crlNumber } = crlWindow(spec);
  const revoked = [...(spec.revoked ?? [])]
    .map((r) => ({ serial: parseSerial(r.serial), at: r.revokedAt }))
    .sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const extensions: Buffer[] = [];
  if (keyId) extensions.push(seq(derOid('2.5.29.35'), octets(seq(tlv(0x80, keyId))))); // authorityKeyIdentifier
  extensions.push(seq(derOid('2.5.29.20'), octets(derInteger(crlNumber)))); // cRLNumber
  const tbs = seq(
    derInteger(1n), // v2
    ECDSA_SHA384,
    subjectDer,
    derTime(thisUpdate),
    derTime(nextUpdate),
    ...(revoked.length ? [seq(...revoked.map((r) => seq(derInteger(r.serial), derTime(r.at))))] : []),
    explicit(0, seq(...extensions)),
  );
  const signature = signP384Deterministic(tbs, spec.caKeyPem);
  // Self-check: a CRL that its own CA key does not verify must never be deployed.
  const caPublic = createPublicKey(spec.caCertPem);
  if (!nodeVerify('sha384', tbs, { key: caPublic, dsaEncoding: 'der' }, signature)) {
    throw new Error('CRL signature does not verify against the CA certificate (wrong CA key?)');
  }
  return seq(tbs, ECDSA_SHA384, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The CRL as PEM ("X509 CRL"), the form the provisioning plan's `pki.crl` input takes. */
export function buildCrlPem(spec: CrlSpec): string {
  return derToPem(buildCrlDer(spec), 'X509 CRL');
}
