// The canonical event serialisation: typed, length-prefixed, NULL distinct from
// empty, injective across field boundaries; images decode back to their columns.
import {
  bytesField, checkpointHash, decodeFields, decodeImage, encodeField, eventLeafHash, EventRow, FieldType, GENESIS_PREV, leafData, nullField, textField,
} from '../../../audit/format';

const base: EventRow = {
  formatVersion: 1, tableName: 'accounts', action: 'UPDATE',
  pkImage: Buffer.concat([encodeField(textField('id')), encodeField({ type: FieldType.UUID, bytes: Buffer.alloc(16, 1) })]),
  tenantId: Buffer.alloc(16, 2), actor: 'app@198.18.1.1', eventTime: '2026-01-02 03:04:05.000006', incarnation: 'u:1',
  beforeImage: null, afterImage: Buffer.alloc(0), detail: null,
};

describe('canonical audit encoding', () => {
  test('field layout: type, u32be length, bytes', () => {
    expect(encodeField(textField('ab')).toString('hex')).toBe('010000000261' + '62');
    expect(encodeField(nullField()).toString('hex')).toBe('0000000000');
  });

  test('NULL, empty and moved boundaries give different leaves', () => {
    const h = (e: Partial<EventRow>): string => eventLeafHash({ ...base, ...e }).toString('hex');
    expect(h({ afterImage: null })).not.toBe(h({ afterImage: Buffer.alloc(0) }));
    expect(h({ detail: '' })).not.toBe(h({ detail: null }));
    expect(h({ tableName: 'accountsU', action: 'PDATE' })).not.toBe(h({}));
    expect(h({})).toBe(h({}));
  });

  test('leaf data starts with magic and version and decodes to ten fields', () => {
    const d = leafData(base);
    expect(d.subarray(0, 5).toString('hex')).toBe('5a54455601');
    expect(decodeFields(d.subarray(5))).toHaveLength(10);
    expect(() => leafData({ ...base, formatVersion: 2 })).toThrow(/unsupported/);
  });

  test('images decode; truncation and unknown types are rejected', () => {
    expect(decodeImage(base.pkImage)).toEqual([{ column: 'id', type: 'UUID', value: '01'.repeat(16) }]);
    expect(() => decodeFields(base.pkImage.subarray(0, base.pkImage.length - 1))).toThrow(/overruns/);
    expect(() => decodeFields(Buffer.from('0900000000', 'hex'))).toThrow(/unknown field type/);
    expect(decodeImage(Buffer.concat([encodeField(textField('x')), encodeField(bytesField(null))]))[0]?.value).toBeNull();
  });

  test('checkpoint hash binds size, root, predecessor, time and incarnation', () => {
    const c = { treeSize: 5n, root: Buffer.alloc(32, 7), prevCheckpointHash: GENESIS_PREV, sealedAt: '2026-01-01 00:00:00.000000', incarnation: 'u:1' };
    const h = checkpointHash(c).toString('hex');
    expect(checkpointHash({ ...c, treeSize: 6n }).toString('hex')).not.toBe(h);
    expect(checkpointHash({ ...c, incarnation: 'u:2' }).toString('hex')).not.toBe(h);
    expect(checkpointHash({ ...c, prevCheckpointHash: Buffer.alloc(32, 1) }).toString('hex')).not.toBe(h);
  });
});
