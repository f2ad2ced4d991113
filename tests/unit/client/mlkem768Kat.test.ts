// ML-KEM-768 against the C2SP CCTV "accumulated" known-answer vector (final FIPS 203):
// https://c2sp.org/CCTV/ML-KEM -- inputs d, z, m and a random ct are drawn from a
// SHAKE-128 stream over empty input; ek, dk, ct, k and the implicit-rejection k are
// absorbed into a second SHAKE-128, whose 32-byte output after 10,000 tests is published.
import { createHash } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem';

const TESTS = 10000;
const EXPECTED_768 = 'f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1';
const PER_TEST = 32 + 32 + 32 + 1088;

describe('ML-KEM-768 (FIPS 203) known-answer test', () => {
  it('matches the C2SP CCTV accumulated vector over 10,000 deterministic tests', () => {
    const rng = createHash('shake128', { outputLength: PER_TEST * TESTS }).digest();
    expect(rng.subarray(0, 16).toString('hex')).toBe('7f9c2ba4e88f827d616045507605853e'); // stream start per CCTV
    const acc = createHash('shake128', { outputLength: 32 });
    for (let i = 0, off = 0; i < TESTS; i++, off += PER_TEST) {
      const d = rng.subarray(off, off + 32);
      const z = rng.subarray(off + 32, off + 64);
      const m = rng.subarray(off + 64, off + 96);
      const badCt = rng.subarray(off + 96, off + PER_TEST);
      const { publicKey, secretKey } = ml_kem768.keygen(Buffer.concat([d, z]));
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, m);
      const k = ml_kem768.decapsulate(cipherText, secretKey);
      if (!Buffer.from(k).equals(Buffer.from(sharedSecret))) throw new Error(`decapsulation mismatch at test ${i}`);
      acc.update(publicKey).update(secretKey).update(cipherText).update(sharedSecret).update(ml_kem768.decapsulate(badCt, secretKey));
    }
    expect(acc.digest('hex')).toBe(EXPECTED_768);
  }, 300000);
});
