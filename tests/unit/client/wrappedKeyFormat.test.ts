import { randomUUID } from 'node:crypto';
import { KeyWrapError } from '../../../client/errors';
import { dekWrapAad, parseWrappedKey, serializeWrappedKey, WrappedKey } from '../../../client/kms/keyWrapper';

const w: WrappedKey = { kind: 'pkcs11', keyName: 'pkcs11:token=lab;object=kek-v1', keyVersion: 'kek-v1#0102', payload: Buffer.from([1, 2, 3, 4]) };

describe('wrapped key blob (key vault format)', () => {
  it('serialises to the documented layout and parses back exactly', () => {
    const b = serializeWrappedKey(w);
    expect(b.subarray(0, 4)).toEqual(Buffer.from([0x5a, 0x57, 0x01, 0x02]));
    expect(b.readUInt16BE(4)).toBe(w.keyName.length);
    expect(b.length).toBe(4 + 2 + w.keyName.length + 2 + w.keyVersion.length + 4 + 4);
    expect(parseWrappedKey(b)).toEqual(w);
  });

  it('rejects truncated, extended, unknown-kind and bad-magic blobs', () => {
    const b = serializeWrappedKey(w);
    const bad = (x: Buffer) => () => parseWrappedKey(x);
    expect(bad(b.subarray(0, b.length - 1))).toThrow(KeyWrapError);
    expect(bad(Buffer.concat([b, Buffer.from([0])]))).toThrow(/trailing bytes/);
    const k = Buffer.from(b);
    k[3] = 9;
    expect(bad(k)).toThrow(/unknown kind 9/);
    const m = Buffer.from(b);
    m[0] = 0;
    expect(bad(m)).toThrow(/bad magic/);
  });

  it('binds tenant and DEK id in the wrap AAD and validates them', () => {
    const t = randomUUID();
    const d = randomUUID();
    expect(dekWrapAad(t, d)).toEqual(dekWrapAad(t.toUpperCase(), d));
    expect(dekWrapAad(t, d).equals(dekWrapAad(d, t))).toBe(false);
    expect(() => dekWrapAad('tenant-1', d)).toThrow(/tenant id must be a UUID/);
  });
});
