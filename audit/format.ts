// The canonical, versioned, typed, length-prefixed serialisation of audit events
// (docs/audit-log-format.md). The SQL triggers (sql/audit.ts) produce exactly these
// bytes; this module re-encodes, decodes and hashes them for the verifier.
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

export const EVENT_FORMAT_VERSION = 1;
export const EVENT_MAGIC = Buffer.from('ZTEV', 'ascii');
export const CHECKPOINT_MAGIC = Buffer.from('ZTCP', 'ascii');
export const CHECKPOINT_FORMAT_VERSION = 1;

/** Type tags of a field. */
export const FieldType = {
  NULL: 0x00,
  TEXT: 0x01,
  BYTES: 0x02,
  INT: 0x03,
  DECIMAL: 0x04,
  DATETIME: 0x05,
  UUID: 0x06,
  DIGEST: 0x07,
} as const;
export type FieldTypeCode = (typeof FieldType)[keyof typeof FieldType];
const TYPE_NAMES = new Map<number, string>(Object.entries(FieldType).map(([k, v]) => [v, k]));

export interface Field {
  readonly type: FieldTypeCode;
  /** Raw bytes (empty for NULL). */
  readonly bytes: Buffer;
}

export const u32be = (n: number): Buffer => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`u32 out of range: ${n}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export const u64be = (n: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** type(1) || u32be(length) || bytes. */
export function encodeField(f: Field): Buffer {
  if (f.type === FieldType.NULL && f.bytes.length) throw new Error('NULL field with content');
  return Buffer.concat([Buffer.from([f.type]), u32be(f.bytes.length), f.bytes]);
}

export const nullField = (): Field => ({ type: FieldType.NULL, bytes: Buffer.alloc(0) });
export const textField = (s: string | null | undefined): Field =>
  (s === null || s === undefined ? nullField() : { type: FieldType.TEXT, bytes: Buffer.from(s, 'utf8') });
export const bytesField = (b: Buffer | null | undefined): Field =>
  (b === null || b === undefined ? nullField() : { type: FieldType.BYTES, bytes: b });
export const uuidField = (b: Buffer | null | undefined): Field =>
  (b === null || b === undefined ? nullField() : { type: FieldType.UUID, bytes: b });
export const datetimeField = (s: string): Field => ({ type: FieldType.DATETIME, bytes: Buffer.from(s, 'ascii') });

/** Decodes a concatenation of fields; throws on any trailing or truncated bytes. */
export function decodeFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 5 > buf.length) throw new Error(`truncated field header at offset ${off}`);
    const type = buf[off] as number;
    if (!TYPE_NAMES.has(type)) throw new Error(`unknown field type 0x${type.toString(16)} at offset ${off}`);
    const len = buf.readUInt32BE(off + 1);
    if (off + 5 + len > buf.length) throw new Error(`field at offset ${off} overruns the buffer`);
    if (type === FieldType.NULL && len !== 0) throw new Error(`NULL field with length ${len}`);
    out.push({ type: type as FieldTypeCode, bytes: buf.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  return out;
}

/** A row image: (name TEXT, value typed) pairs in the table spec's column order. */
export interface ImageEntry {
  readonly column: string;
  readonly type: string;
  /** Display form: text for TEXT/INT/DECIMAL/DATETIME, hex for BYTES/UUID/DIGEST, null for NULL. */
  readonly value: string | null;
}

/**
 * Throws what decodeImage would throw, without building the entries: the verifier
 * checks the shape of every image but displays none.
 */
export function checkImage(buf: Buffer, start = 0, end = buf.length): void {
  // One pass for the well-formed case (every image the verifier sees, normally)...
  let off = start;
  let ok = true;
  let name = true;
  while (off < end) {
    const type = buf[off] as number;
    if (off + 5 > end || (name ? type !== FieldType.TEXT : type > FieldType.DIGEST)) { ok = false; break; }
    const len = buf.readUInt32BE(off + 1);
    if (off + 5 + len > end || (type === FieldType.NULL && len !== 0)) { ok = false; break; }
    off += 5 + len;
    name = !name;
  }
  if (ok && name) return;
  // ...and for a bad one, the decoder's order of checks, so the message is the same.
  off = start;
  let fields = 0;
  while (off < end) {
    const at = off - start;
    if (off + 5 > end) throw new Error(`truncated field header at offset ${at}`);
    const type = buf[off] as number;
    if (!TYPE_NAMES.has(type)) throw new Error(`unknown field type 0x${type.toString(16)} at offset ${at}`);
    const len = buf.readUInt32BE(off + 1);
    if (off + 5 + len > end) throw new Error(`field at offset ${at} overruns the buffer`);
    if (type === FieldType.NULL && len !== 0) throw new Error(`NULL field with length ${len}`);
    off += 5 + len;
    fields++;
  }
  if (fields % 2) throw new Error('row image has an odd number of fields');
  for (off = start; off < end; off += 10 + buf.readUInt32BE(off + 1) + buf.readUInt32BE(off + 6 + buf.readUInt32BE(off + 1))) {
    if (buf[off] !== FieldType.TEXT) throw new Error('row image column name is not TEXT');
  }
}

export function decodeImage(buf: Buffer): ImageEntry[] {
  const fields = decodeFields(buf);
  if (fields.length % 2) throw new Error('row image has an odd number of fields');
  const out: ImageEntry[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as Field;
    const value = fields[i + 1] as Field;
    if (name.type !== FieldType.TEXT) throw new Error('row image column name is not TEXT');
    const binary = value.type === FieldType.BYTES || value.type === FieldType.UUID || value.type === FieldType.DIGEST;
    out.push({
      column: name.bytes.toString('utf8'),
      type: TYPE_NAMES.get(value.type) as string,
      value: value.type === FieldType.NULL ? null : binary ? value.bytes.toString('hex') : value.bytes.toString('utf8'),
    });
  }
  return out;
}

/** The stored columns of one audit_events row that enter its leaf. */
export interface EventRow {
  readonly formatVersion: number;
  readonly tableName: string;
  readonly action: string;
  readonly pkImage: Buffer;
  readonly tenantId: Buffer | null;
  readonly actor: string;
  /** 'YYYY-MM-DD HH:MM:SS.ffffff' exactly as stored (DATETIME(6)). */
  readonly eventTime: string;
  readonly incarnation: string;
  readonly beforeImage: Buffer | null;
  readonly afterImage: Buffer | null;
  readonly detail: string | null;
}

/** The ten leaf fields in their fixed order. */
export function leafFields(e: EventRow): Field[] {
  return [
    textField(e.tableName),
    textField(e.action),
    bytesField(e.pkImage),
    uuidField(e.tenantId),
    textField(e.actor),
    datetimeField(e.eventTime),
    textField(e.incarnation),
    bytesField(e.beforeImage),
    bytesField(e.afterImage),
    textField(e.detail),
  ];
}

/**
 * 0x00 || leaf_data in one allocation: the RFC 6962 leaf-hash input. The verifier
 * builds one per event, so the fields are written in place instead of concatenated.
 */
export function leafHashInput(e: EventRow): Buffer {
  if (e.formatVersion !== EVENT_FORMAT_VERSION) throw new Error(`unsupported event format version ${e.formatVersion}`);
  const fields = leafFields(e);
  const out = Buffer.allocUnsafe(1 + EVENT_MAGIC.length + 1 + fieldsSize(fields));
  out[0] = 0x00;
  EVENT_MAGIC.copy(out, 1);
  out[1 + EVENT_MAGIC.length] = e.formatVersion;
  writeFields(out, 2 + EVENT_MAGIC.length, fields);
  return out;
}

/** Bytes that writeFields() writes for these fields. */
export function fieldsSize(fields: readonly Field[]): number {
  let size = 0;
  for (const f of fields) size += 5 + f.bytes.length;
  return size;
}

/** Writes each field as type || u32be(length) || bytes at out[off] (room for fieldsSize()); returns the end. */
export function writeFields(out: Buffer, off: number, fields: readonly Field[]): number {
  for (const f of fields) {
    if (f.type === FieldType.NULL && f.bytes.length) throw new Error('NULL field with content');
    out[off] = f.type;
    out.writeUInt32BE(f.bytes.length, off + 1);
    f.bytes.copy(out, off + 5);
    off += 5 + f.bytes.length;
  }
  return off;
}

/** leaf_data: "ZTEV" || version(1) || ten fields in fixed order. */
export function leafData(e: EventRow): Buffer {
  return leafHashInput(e).subarray(1);
}

// One-shot hashing: the verifier hashes several times per event. crypto.hash skips
// the Hash object createHash builds, and asking it for a latin1 string (one char per
// byte, lossless) then copying that into a Buffer is about twice as fast here as its
// 'buffer' output, which dominates for inputs this small.
type OneShot = (alg: string, data: Uint8Array, enc: 'binary') => string;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

/** SHA-256 as a 32-char latin1 string (compare with buf.latin1Slice()), for hot paths. */
export const sha256Latin1 = (data: Uint8Array): string =>
  (oneShot ? oneShot('sha256', data, 'binary') : createHash('sha256').update(data).digest('binary'));

export const sha256 = (...parts: Buffer[]): Buffer =>
  Buffer.from(sha256Latin1(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)), 'latin1');

/** RFC 6962 leaf hash of the event. */
export function eventLeafHash(e: EventRow): Buffer {
  return sha256(leafHashInput(e));
}

export interface CheckpointRow {
  readonly treeSize: bigint;
  readonly root: Buffer;
  readonly prevCheckpointHash: Buffer;
  readonly checkpointHash: Buffer;
  /** 'YYYY-MM-DD HH:MM:SS.ffffff' exactly as stored. */
  readonly sealedAt: string;
  readonly incarnation: string;
}

export const GENESIS_PREV = Buffer.alloc(32);

/** checkpoint_hash = SHA-256("ZTCP" || 0x01 || u64be(size) || root || prev || DATETIME(sealed_at) || TEXT(incarnation)). */
export function checkpointHash(c: Omit<CheckpointRow, 'checkpointHash'>): Buffer {
  return sha256(
    CHECKPOINT_MAGIC, Buffer.from([CHECKPOINT_FORMAT_VERSION]), u64be(c.treeSize), c.root, c.prevCheckpointHash,
    encodeField(datetimeField(c.sealedAt)), encodeField(textField(c.incarnation)),
  );
}
