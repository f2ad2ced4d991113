// Small canonical-encoding helpers shared by the envelope and key-wrapping code.
// Every variable-length field is prefixed with its 32-bit big-endian length, so
// no two different field lists can encode to the same bytes.

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** 16 raw bytes of a UUID (case-insensitive input, so 'ABC…' and 'abc…' are the same id). */
export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** Lower-case canonical text form of 16 UUID bytes. */
export function bytesToUuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** u32be(len) || bytes, for each field in order. */
export function lengthPrefixed(fields: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(f.length, 0);
    parts.push(len, Buffer.from(f.buffer, f.byteOffset, f.length));
  }
  return Buffer.concat(parts);
}

/** Inverse of lengthPrefixed; returns undefined unless the input is consumed exactly. */
export function parseLengthPrefixed(buf: Buffer, expectedFields: number): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(off);
    off += 4;
    if (off + len > buf.length) return undefined;
    out.push(buf.subarray(off, off + len));
    off += len;
  }
  return out.length === expectedFields ? out : undefined;
}
