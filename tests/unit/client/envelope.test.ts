import { randomBytes, randomUUID } from 'node:crypto';
import {
  DataKey,
  decryptField,
  encryptField,
  envelopeAad,
  FieldContext,
  HEADER_LENGTH,
  MAX_PLAINTEXT_BYTES,
  parseEnvelopeHeader,
  TAG_LENGTH,
} from '../../../client/envelope';
import { EnvelopeError } from '../../../client/errors';

const dek: DataKey = { id: randomUUID(), key: randomBytes(32) };
const ctx: FieldContext = { tenantId: randomUUID(), table: 'users', column: 'email', rowId: 42 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EnvelopeError);
    return (e as EnvelopeError).code;
  }
  throw new Error('expected an EnvelopeError');
}

describe('envelope format v1', () => {
  it('round-trips strings and binary, with the documented layout', () => {
    const blob = encryptField(dek, ctx, 'alice@example.com');
    expect(blob.length).toBe(HEADER_LENGTH + 'alice@example.com'.length + TAG_LENGTH);
    expect(blob.subarray(0, 4)).toEqual(Buffer.from([0x5a, 0x54, 0x01, 0x01]));
    expect(blob.subarray(4, 20).toString('hex')).toBe(dek.id.replace(/-/g, ''));
    expect(decryptField(dek, ctx, blob).toString('utf8')).toBe('alice@example.com');
    const bin = randomBytes(1000);
    expect(decryptField(dek, ctx, encryptField(dek, ctx, bin))).toEqual(bin);
    expect(decryptField(dek, ctx, encryptField(dek, ctx, ''))).toEqual(Buffer.alloc(0));
    expect(parseEnvelopeHeader(blob)).toEqual({ version: 1, algorithm: 1, dekId: dek.id });
  });

  it('uses a fresh nonce per encryption (same input, different blobs)', () => {
    const a = encryptField(dek, ctx, 'same');
    const b = encryptField(dek, ctx, 'same');
    expect(a.subarray(20, 32).equals(b.subarray(20, 32))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('encodes the AAD canonically (length-prefixed fields, tenant id case-insensitive)', () => {
    const aad = envelopeAad(ctx, 1, 1, dek.id);
    const label = Buffer.from('ztmysql/envelope/aad/v1');
    expect(aad.readUInt32BE(0)).toBe(label.length);
    expect(aad.subarray(4, 4 + label.length)).toEqual(label);
    expect(envelopeAad({ ...ctx, tenantId: ctx.tenantId.toUpperCase() }, 1, 1, dek.id)).toEqual(aad);
    // ("ab","c") and ("a","bc") must not collide
    const x = envelopeAad({ ...ctx, table: 'ab', column: 'c' }, 1, 1, dek.id);
    const y = envelopeAad({ ...ctx, table: 'a', column: 'bc' }, 1, 1, dek.id);
    expect(x.equals(y)).toBe(false);
    // number and decimal-string row ids are the same row
    expect(envelopeAad({ ...ctx, rowId: '42' }, 1, 1, dek.id)).toEqual(aad);
  });

  it('fails with ENVELOPE_AAD_MISMATCH when moved to another row, column, table or tenant', () => {
    const blob = encryptField(dek, ctx, 'alice@example.com');
    expect(code(() => decryptField(dek, { ...ctx, rowId: 43 }, blob))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField(dek, { ...ctx, column: 'phone' }, blob))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField(dek, { ...ctx, table: 'accounts' }, blob))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField(dek, { ...ctx, tenantId: randomUUID() }, blob))).toBe('ENVELOPE_AAD_MISMATCH');
  });

  it('rejects every single-byte change anywhere in the blob', () => {
    const blob = encryptField(dek, ctx, 'a field of some length');
    const seen = new Set<string>();
    for (let i = 0; i < blob.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const t = Buffer.from(blob);
        t[i] ^= mask;
        seen.add(code(() => decryptField(dek, ctx, t)));
      }
    }
    // header bytes fail with format errors, the rest with authentication failure
    expect([...seen].sort()).toEqual(
      ['ENVELOPE_AAD_MISMATCH', 'ENVELOPE_DEK_MISMATCH', 'ENVELOPE_MALFORMED', 'ENVELOPE_UNSUPPORTED_ALGORITHM', 'ENVELOPE_UNSUPPORTED_VERSION'].sort(),
    );
    expect(code(() => decryptField(dek, ctx, blob.subarray(0, blob.length - 1)))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField(dek, ctx, Buffer.concat([blob, Buffer.from([0])])))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField(dek, ctx, blob.subarray(0, HEADER_LENGTH + TAG_LENGTH - 1)))).toBe('ENVELOPE_MALFORMED');
  });

  it('fails with a wrong DEK (same id, other key bytes) and with a DEK of another id', () => {
    const blob = encryptField(dek, ctx, 'secret');
    expect(code(() => decryptField({ id: dek.id, key: randomBytes(32) }, ctx, blob))).toBe('ENVELOPE_AAD_MISMATCH');
    expect(code(() => decryptField({ id: randomUUID(), key: dek.key }, ctx, blob))).toBe('ENVELOPE_DEK_MISMATCH');
  });

  it('rejects malformed inputs with clear errors that do not echo the plaintext', () => {
    const bad = (c: Partial<FieldContext>, pt: string | Buffer = 'x') => () => encryptField(dek, { ...ctx, ...c }, pt);
    expect(bad({ tenantId: 'not-a-uuid' })).toThrow(/tenant id must be a UUID/);
    expect(bad({ column: '' })).toThrow(/column must be a MySQL identifier/);
    expect(bad({ table: 'users; DROP TABLE x' })).toThrow(/table must be a MySQL identifier/);
    expect(bad({ table: 'a'.repeat(65) })).toThrow(/table/);
    expect(bad({ rowId: '' })).toThrow(/row id must be 1\.\.128 bytes/);
    expect(bad({ rowId: -1 })).toThrow(/non-negative/);
    expect(bad({ rowId: 1.5 })).toThrow(/non-negative safe integer/);
    expect(bad({}, Buffer.alloc(MAX_PLAINTEXT_BYTES + 1, 0x41))).toThrow(`plaintext exceeds ${MAX_PLAINTEXT_BYTES} bytes`);
    expect(() => encryptField(dek, ctx, Buffer.alloc(MAX_PLAINTEXT_BYTES))).not.toThrow();
    expect(() => encryptField({ id: dek.id, key: randomBytes(16) }, ctx, 'x')).toThrow(/DEK must be 32 bytes/);
    expect(() => encryptField({ id: 'k1', key: dek.key }, ctx, 'x')).toThrow(/DEK id must be a UUID/);
    const blob = encryptField(dek, ctx, 'TOP-SECRET-MARKER');
    let err: Error | undefined;
    try {
      decryptField(dek, { ...ctx, rowId: 7 }, blob);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(EnvelopeError);
    expect(err?.message).not.toMatch(/TOP-SECRET-MARKER/);
    expect(err?.message).not.toContain(dek.key.toString('hex'));
    expect(code(() => decryptField(dek, ctx, Buffer.from('ZT not an envelope at all, just text....................')))).toBe('ENVELOPE_UNSUPPORTED_VERSION');
    expect(code(() => decryptField(dek, ctx, Buffer.alloc(60)))).toBe('ENVELOPE_MALFORMED');
  });
});
