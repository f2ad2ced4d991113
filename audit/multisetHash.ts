// A keyed, incremental multiset hash (MSet-Add-Hash, Clarke et al., "Incremental
// Multiset Hash Functions and Their Application to Memory Integrity Checking",
// ASIACRYPT 2003):  H_K(M) = Σ_{x ∈ M} F_K(x)  mod 2^128,  F_K = AES-256 CBC-MAC over
// exactly two blocks (a PRF for fixed-length inputs: Bellare, Kilian, Rogaway 1994).
//
// Why keyed is enough here: the verifier computes both sides itself in one run, with a
// key drawn at random when the run starts and never shown to anyone. The database's
// content is fixed before the key exists and nothing derived from the key goes back to
// it, so two different multisets collide with probability about 2^-84 per run (the
// PRP/PRF switching bound at a few million elements dominates). An unkeyed
// collision-resistant set hash (LtHash16, 2 KiB of SHAKE256 per element) cost ten times
// more per event and bought nothing an auditor could use: no hash value is published.
//
// Elements are 32-byte digests. They are batched so each batch costs two AES-ECB calls
// (one per CBC-MAC block) instead of one cipher object per element.
import { createCipheriv, randomBytes, type Cipher } from 'node:crypto';

const DIGEST = 32;
const BATCH = 4096;
const TWO32 = 4294967296;
/** Words are summed as doubles (exact below 2^53): normalise before 2^20 additions. */
const NORMALISE_EVERY = 1 << 20;

/** A 128-bit sum kept as four 32-bit words, each a signed double until normalised. */
class Sum128 {
  readonly w = [0, 0, 0, 0];
  private pending = 0;

  addWords(b: Buffer, off: number, sign: number): void {
    this.w[0] += sign * b.readUInt32LE(off);
    this.w[1] += sign * b.readUInt32LE(off + 4);
    this.w[2] += sign * b.readUInt32LE(off + 8);
    this.w[3] += sign * b.readUInt32LE(off + 12);
    if (++this.pending >= NORMALISE_EVERY) this.normalise();
  }

  normalise(): void {
    let carry = 0;
    for (let i = 0; i < 4; i++) {
      const v = (this.w[i] as number) + carry;
      const word = ((v % TWO32) + TWO32) % TWO32;
      carry = (v - word) / TWO32;
      this.w[i] = word;
    }
    this.pending = 0; // the carry out of word 3 is dropped: arithmetic mod 2^128
  }
}

/** One keyed accumulator space: every MultisetHash made from it shares the run's key. */
export class MultisetHashKey {
  private readonly cipher: Cipher;

  constructor(key: Buffer = randomBytes(32)) {
    if (key.length !== 32) throw new RangeError('the multiset hash key is 32 bytes');
    this.cipher = createCipheriv('aes-256-ecb', key, null);
    this.cipher.setAutoPadding(false);
  }

  /** F_K over `count` 32-byte digests packed in `digests`: 16-byte MACs, packed. */
  prf(digests: Buffer, count: number): Buffer {
    const first = Buffer.allocUnsafe(count * 16);
    const second = Buffer.allocUnsafe(count * 16);
    for (let i = 0; i < count; i++) {
      digests.copy(first, i * 16, i * DIGEST, i * DIGEST + 16);
      digests.copy(second, i * 16, i * DIGEST + 16, i * DIGEST + 32);
    }
    const c1 = this.cipher.update(first);
    if (c1.byteOffset % 4 === 0 && second.byteOffset % 4 === 0) {
      const a = new Int32Array(c1.buffer, c1.byteOffset, c1.length / 4);
      const b = new Int32Array(second.buffer, second.byteOffset, second.length / 4);
      for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) ^ (b[i] as number); // byte order is irrelevant to XOR
    } else {
      for (let i = 0; i < c1.length; i++) c1[i] = (c1[i] as number) ^ (second[i] as number);
    }
    return this.cipher.update(c1);
  }

  create(): MultisetHash {
    return new MultisetHash(this);
  }
}

export class MultisetHash {
  private readonly sum = new Sum128();
  private readonly batch = Buffer.allocUnsafe(BATCH * DIGEST);
  private readonly signs = new Int8Array(BATCH);
  private n = 0;
  /** Net element count (added minus removed). */
  count = 0;

  constructor(private readonly key: MultisetHashKey) {}

  add(digest: Buffer): void {
    this.push(digest, 1);
  }

  remove(digest: Buffer): void {
    this.push(digest, -1);
  }

  /** A digest given as a 32-char latin1 string (format.sha256Latin1), added (1) or removed (-1). */
  pushLatin1(digest: string, sign: 1 | -1): void {
    if (digest.length !== DIGEST) throw new RangeError(`a multiset element is a ${DIGEST}-byte digest, got ${digest.length} bytes`);
    this.batch.write(digest, this.n * DIGEST, DIGEST, 'latin1');
    this.record(sign);
  }

  private push(digest: Buffer, sign: 1 | -1): void {
    if (digest.length !== DIGEST) throw new RangeError(`a multiset element is a ${DIGEST}-byte digest, got ${digest.length} bytes`);
    digest.copy(this.batch, this.n * DIGEST);
    this.record(sign);
  }

  private record(sign: 1 | -1): void {
    this.signs[this.n++] = sign;
    this.count += sign;
    if (this.n === BATCH) this.flush();
  }

  private flush(): void {
    if (this.n === 0) return;
    const macs = this.key.prf(this.batch, this.n);
    for (let i = 0; i < this.n; i++) this.sum.addWords(macs, i * 16, this.signs[i] as number);
    this.n = 0;
  }

  /** The 128-bit value (normalised), little-endian hex. Meaningful only within this run's key. */
  value(): string {
    this.flush();
    this.sum.normalise();
    const out = Buffer.alloc(16);
    this.sum.w.forEach((w, i) => out.writeUInt32LE(w, i * 4));
    return out.toString('hex');
  }

  equals(o: MultisetHash): boolean {
    return this.value() === o.value();
  }
}
