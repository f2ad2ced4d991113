// Envelope format v1: one self-describing blob per encrypted field.
// Byte layout and AAD encoding are specified in docs/envelope-format.md; keep them in sync.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EnvelopeError } from './errors';
import { bytesToUuid, isUuid, lengthPrefixed, uuidToBytes } from './encoding';

export const ENVELOPE_MAGIC = Buffer.from('ZT', 'ascii');
export const ENVELOPE_VERSION_1 = 0x01;
export const ALG_AES_256_GCM = 0x01;
export const HEADER_LENGTH = 32; // magic 2 + version 1 + alg 1 + dekId 16 + nonce 12
export const TAG_LENGTH = 16;
export const NONCE_LENGTH = 12;
export const DEK_LENGTH = 32;
/** Largest plaintext accepted per field (64 KiB): PII fields are small; this bounds blob size. */
export const MAX_PLAINTEXT_BYTES = 65536;
export const MAX_ROW_ID_BYTES = 128;
const AAD_LABEL = Buffer.from('ztmysql/envelope/aad/v1', 'ascii');
// MySQL identifiers (unquoted), max 64 characters. Case is significant in the AAD.
const IDENT_RE = /^[A-Za-z0-9_$]{1,64}$/;

/** A data-encryption key: 32 bytes of AES key plus its UUID. Never log `key`. */
export interface DataKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Where a field lives; all of it is bound into the AEAD associated data. */
export interface FieldContext {
  readonly tenantId: string;
  readonly table: string;
  readonly column: string;
  readonly rowId: string | number | bigint;
}

export interface EnvelopeHeader {
  readonly version: number;
  readonly algorithm: number;
  readonly dekId: string;
}

function invalid(msg: string): never {
  throw new EnvelopeError('ENVELOPE_INVALID_INPUT', msg);
}

function checkDek(dek: DataKey): void {
  if (!dek || !isUuid(dek.id)) invalid('DEK id must be a UUID');
  if (!Buffer.isBuffer(dek.key) || dek.key.length !== DEK_LENGTH) invalid(`DEK must be ${DEK_LENGTH} bytes`);
}

function canonicalRowId(rowId: FieldContext['rowId']): Buffer {
  let s: string;
  if (typeof rowId === 'string') s = rowId;
  else if (typeof rowId === 'number') {
    if (!Number.isSafeInteger(rowId) || rowId < 0) invalid('row id number must be a non-negative safe integer');
    s = String(rowId);
  } else if (typeof rowId === 'bigint') {
    if (rowId < 0n) invalid('row id must be non-negative');
    s = rowId.toString(10);
  } else invalid('row id must be a string, number or bigint');
  const b = Buffer.from(s, 'utf8');
  if (b.length === 0 || b.length > MAX_ROW_ID_BYTES) invalid(`row id must be 1..${MAX_ROW_ID_BYTES} bytes`);
  return b;
}

function checkContext(ctx: FieldContext): void {
  if (!ctx || typeof ctx !== 'object') invalid('field context is required');
  if (!isUuid(ctx.tenantId)) invalid('tenant id must be a UUID');
  if (typeof ctx.table !== 'string' || !IDENT_RE.test(ctx.table)) invalid('table must be a MySQL identifier of 1..64 characters [A-Za-z0-9_$]');
  if (typeof ctx.column !== 'string' || !IDENT_RE.test(ctx.column)) invalid('column must be a MySQL identifier of 1..64 characters [A-Za-z0-9_$]');
}

/**
 * Canonical associated data: length-prefixed (label, version, algorithm, tenant
 * UUID bytes, table, column, row id, DEK UUID bytes). Exported for the spec tests.
 */
export function envelopeAad(ctx: FieldContext, version: number, algorithm: number, dekId: string): Buffer {
  checkContext(ctx);
  return lengthPrefixed([
    AAD_LABEL,
    Buffer.from([version]),
    Buffer.from([algorithm]),
    uuidToBytes(ctx.tenantId),
    Buffer.from(ctx.table, 'utf8'),
    Buffer.from(ctx.column, 'utf8'),
    canonicalRowId(ctx.rowId),
    uuidToBytes(dekId),
  ]);
}

/** Encrypt one field. Returns header || ciphertext || tag (see docs/envelope-format.md). */
export function encryptField(dek: DataKey, ctx: FieldContext, plaintext: Buffer | string): Buffer {
  checkDek(dek);
  const pt = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  if (!Buffer.isBuffer(pt)) invalid('plaintext must be a Buffer or string');
  if (pt.length > MAX_PLAINTEXT_BYTES) invalid(`plaintext exceeds ${MAX_PLAINTEXT_BYTES} bytes`);
  const aad = envelopeAad(ctx, ENVELOPE_VERSION_1, ALG_AES_256_GCM, dek.id);
  // Random 96-bit nonce: a DEK's use count is bounded by the cache/rotation policy,
  // far below the 2^32 messages per key NIST SP 800-38D allows with random nonces.
  const nonce = randomBytes(NONCE_LENGTH);
  const header = Buffer.concat([ENVELOPE_MAGIC, Buffer.from([ENVELOPE_VERSION_1, ALG_AES_256_GCM]), uuidToBytes(dek.id), nonce]);
  const cipher = createCipheriv('aes-256-gcm', dek.key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(pt), cipher.final()]);
  return Buffer.concat([header, ct, cipher.getAuthTag()]);
}

/** Parse and validate the header without decrypting (the data API uses it to pick the DEK). */
export function parseEnvelopeHeader(blob: Buffer): EnvelopeHeader {
  if (!Buffer.isBuffer(blob)) throw new EnvelopeError('ENVELOPE_MALFORMED', 'envelope must be a Buffer');
  if (blob.length < HEADER_LENGTH + TAG_LENGTH) throw new EnvelopeError('ENVELOPE_MALFORMED', 'envelope is too short');
  if (blob.length > HEADER_LENGTH + MAX_PLAINTEXT_BYTES + TAG_LENGTH) throw new EnvelopeError('ENVELOPE_MALFORMED', 'envelope is too long');
  if (!blob.subarray(0, 2).equals(ENVELOPE_MAGIC)) throw new EnvelopeError('ENVELOPE_MALFORMED', 'not a ztmysql envelope (bad magic)');
  const version = blob[2];
  if (version !== ENVELOPE_VERSION_1) throw new EnvelopeError('ENVELOPE_UNSUPPORTED_VERSION', `unsupported envelope version ${version}`);
  const algorithm = blob[3];
  if (algorithm !== ALG_AES_256_GCM) throw new EnvelopeError('ENVELOPE_UNSUPPORTED_ALGORITHM', `unsupported envelope algorithm ${algorithm}`);
  return { version, algorithm, dekId: bytesToUuid(blob.subarray(4, 20)) };
}

/** Decrypt one field; fails with ENVELOPE_AAD_MISMATCH if the blob was moved or altered. */
export function decryptField(dek: DataKey, ctx: FieldContext, blob: Buffer): Buffer {
  checkDek(dek);
  const header = parseEnvelopeHeader(blob);
  if (header.dekId !== bytesToUuid(uuidToBytes(dek.id))) {
    throw new EnvelopeError('ENVELOPE_DEK_MISMATCH', 'envelope was encrypted under a different DEK');
  }
  const aad = envelopeAad(ctx, header.version, header.algorithm, header.dekId);
  const nonce = blob.subarray(20, HEADER_LENGTH);
  const tag = blob.subarray(blob.length - TAG_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', dek.key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const out = decipher.update(blob.subarray(HEADER_LENGTH, blob.length - TAG_LENGTH));
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    out.fill(0); // unauthenticated plaintext must never escape
    throw new EnvelopeError(
      'ENVELOPE_AAD_MISMATCH',
      'envelope authentication failed: wrong tenant/table/column/row, wrong key, or altered ciphertext',
    );
  }
}
