import { crc32c } from '../../../client/kms/crc32c';

describe('CRC32C (Castagnoli)', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32c('123456789')).toBe(0xe3069283);
    expect(crc32c(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
  });

  it('matches RFC 3720 B.4 vectors (32 zero bytes, 32 0xFF bytes, ascending 0..31)', () => {
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('is 0 for empty input and changes on a single bit flip', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const a = Buffer.from('tenant dek');
    const b = Buffer.from(a);
    b[3] ^= 0x01;
    expect(crc32c(a)).not.toBe(crc32c(b));
  });
});
