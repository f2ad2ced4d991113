// The keyed multiset hash equals a plain reference (Σ CBC-MAC_K(x) mod 2^128, one
// aes-256-cbc call per element, BigInt sum), is order-independent, counts multiplicity,
// cancels add/remove exactly, and depends on the key.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { MultisetHashKey } from '../../../audit/multisetHash';

const digest = (i: number): Buffer => createHash('sha256').update(`element ${i}`).digest();

function reference(key: Buffer, elements: [Buffer, number][]): string {
  let sum = 0n;
  for (const [x, sign] of elements) {
    const c = createCipheriv('aes-256-cbc', key, Buffer.alloc(16));
    c.setAutoPadding(false);
    const mac = Buffer.concat([c.update(x), c.final()]).subarray(16, 32);
    sum += BigInt(sign) * BigInt(`0x${Buffer.from(mac).reverse().toString('hex')}`);
  }
  const m = ((sum % (1n << 128n)) + (1n << 128n)) % (1n << 128n);
  return Buffer.from(m.toString(16).padStart(32, '0'), 'hex').reverse().toString('hex');
}

describe('keyed multiset hash', () => {
  const key = randomBytes(32);

  test('equals the per-element CBC-MAC reference across batch boundaries and with removals', () => {
    const elements: [Buffer, number][] = Array.from({ length: 9000 }, (_, i) => [digest(i), i % 3 === 0 ? -1 : 1]);
    const h = new MultisetHashKey(key).create();
    for (const [x, s] of elements) {
      if (s > 0) h.add(x);
      else h.remove(x);
    }
    expect(h.value()).toBe(reference(key, elements));
    expect(h.count).toBe(elements.reduce((a, [, s]) => a + s, 0));
  });

  test('order does not matter; multiplicity does; add then remove is the empty set', () => {
    const k = new MultisetHashKey(key);
    const a = k.create();
    const b = k.create();
    const empty = k.create();
    for (let i = 0; i < 5000; i++) a.add(digest(i));
    for (let i = 4999; i >= 0; i--) b.add(digest(i));
    expect(a.equals(b)).toBe(true);
    b.add(digest(7));
    expect(a.equals(b)).toBe(false);
    b.remove(digest(7));
    expect(a.equals(b)).toBe(true);
    for (let i = 0; i < 5000; i++) a.remove(digest(i));
    expect(a.equals(empty)).toBe(true);
    expect(a.value()).toBe('0'.repeat(32));
  });

  test('two copies of x are not one copy of y, and a different key gives a different value', () => {
    const k = new MultisetHashKey(key);
    const twice = k.create();
    twice.add(digest(1));
    twice.add(digest(1));
    const other = k.create();
    other.add(digest(1));
    other.add(digest(2));
    expect(twice.equals(other)).toBe(false);
    const k2 = new MultisetHashKey(randomBytes(32)).create();
    k2.add(digest(1));
    k2.add(digest(1));
    expect(k2.value()).not.toBe(twice.value());
  });

  test('sums stay exact past the normalisation point (2^20 additions)', () => {
    const k = new MultisetHashKey(key);
    const h = k.create();
    const x = digest(42);
    const n = (1 << 20) + 5;
    for (let i = 0; i < n; i++) h.add(x);
    expect(h.value()).toBe(reference(key, [[x, n]]));
  });

  test('refuses elements that are not 32-byte digests and keys that are not 32 bytes', () => {
    expect(() => new MultisetHashKey(Buffer.alloc(16))).toThrow(/32 bytes/);
    expect(() => new MultisetHashKey(key).create().add(Buffer.alloc(31))).toThrow(/32-byte digest/);
  });
});
