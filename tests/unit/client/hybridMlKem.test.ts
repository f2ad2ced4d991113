import { randomBytes, randomUUID } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem';
import { KeyWrapError } from '../../../client/errors';
import { GcpKmsKeyWrapper } from '../../../client/kms/gcpKms';
import {
  deriveHybridKek,
  generateMlKemRecipient,
  hybridInnerAad,
  HybridMlKemWrapper,
  openSealedDek,
  parseHybridPayload,
  publicKeyHash,
} from '../../../client/kms/hybridMlKem';
import { dekWrapAad, parseWrappedKey, serializeWrappedKey } from '../../../client/kms/keyWrapper';
import { FakeKmsServer } from '../../../client/testing/fakeKmsServer';

const KEY = 'projects/p1/locations/l/keyRings/r/cryptoKeys/hybrid-inner';
const KEY2 = 'projects/p1/locations/l/keyRings/r/cryptoKeys/other';
let kms: FakeKmsServer;
let inner: GcpKmsKeyWrapper;
let other: GcpKmsKeyWrapper;
const recipient = generateMlKemRecipient(randomBytes(64));
const aad = dekWrapAad(randomUUID(), randomUUID());

async function failure(p: Promise<unknown>): Promise<KeyWrapError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KeyWrapError);
    return e as KeyWrapError;
  }
  throw new Error('expected a KeyWrapError');
}

beforeAll(async () => {
  kms = await FakeKmsServer.start();
  kms.createKey(KEY);
  kms.createKey(KEY2);
  inner = new GcpKmsKeyWrapper({ keyName: KEY, client: kms.client() });
  other = new GcpKmsKeyWrapper({ keyName: KEY2, client: kms.client() });
});
afterAll(async () => {
  await inner.close();
  await other.close();
  await kms.stop();
});

describe('ML-KEM-768 + KMS hybrid wrap', () => {
  it('round-trips through the serialised blob', async () => {
    const hybrid = new HybridMlKemWrapper(inner, recipient);
    const dek = randomBytes(32);
    const w = await hybrid.wrap(dek, aad);
    expect(w.kind).toBe('hybrid-mlkem768');
    expect(w.keyVersion).toBe(`${KEY}/cryptoKeyVersions/1`);
    const p = parseHybridPayload(w.payload);
    expect(p.kemCiphertext.length).toBe(1088);
    expect(p.inner.keyName).toBe(KEY);
    expect(await hybrid.unwrap(parseWrappedKey(serializeWrappedKey(w)), aad)).toEqual(dek);
    expect((await failure(hybrid.unwrap(w, dekWrapAad(randomUUID(), randomUUID())))).code).toBe('KMS_CALL_FAILED');
  });

  it('the KMS secret alone does not recover the DEK (wrong ML-KEM secret key)', async () => {
    const dek = randomBytes(32);
    const w = await new HybridMlKemWrapper(inner, recipient).wrap(dek, aad);
    // same public key (so the recipient check passes), other secret key: implicit rejection
    const impostor = new HybridMlKemWrapper(inner, { publicKey: recipient.publicKey, secretKey: generateMlKemRecipient().secretKey });
    const e = await failure(impostor.unwrap(w, aad));
    expect(e.code).toBe('HYBRID_UNWRAP_FAILED');
    // and directly: the real classical secret with a zero or random KEM secret fails
    const p = parseHybridPayload(w.payload);
    const classical = await inner.unwrap(p.inner, hybridInnerAad(aad));
    for (const ss of [Buffer.alloc(32), randomBytes(32)]) {
      const kek = deriveHybridKek({ classicalSecret: classical, kemSharedSecret: ss, kemCiphertext: p.kemCiphertext, recipientPublicKeyHash: p.recipientPublicKeyHash, aad });
      expect(() => openSealedDek(kek, p, aad)).toThrow(KeyWrapError);
    }
    // sanity: with both secrets the same direct path opens it (so the failures above are meaningful)
    const ss = ml_kem768.decapsulate(p.kemCiphertext, recipient.secretKey);
    const kek = deriveHybridKek({ classicalSecret: classical, kemSharedSecret: ss, kemCiphertext: p.kemCiphertext, recipientPublicKeyHash: p.recipientPublicKeyHash, aad });
    expect(openSealedDek(kek, p, aad)).toEqual(dek);
  });

  it('the KEM secret alone does not recover the DEK (KMS secret unavailable or guessed)', async () => {
    const w = await new HybridMlKemWrapper(inner, recipient).wrap(randomBytes(32), aad);
    const p = parseHybridPayload(w.payload);
    const ss = ml_kem768.decapsulate(p.kemCiphertext, recipient.secretKey);
    for (const classical of [Buffer.alloc(32), randomBytes(32)]) {
      const kek = deriveHybridKek({ classicalSecret: classical, kemSharedSecret: ss, kemCiphertext: p.kemCiphertext, recipientPublicKeyHash: p.recipientPublicKeyHash, aad });
      expect(() => openSealedDek(kek, p, aad)).toThrow('hybrid unwrap failed');
    }
    // a hybrid wrapper over another KMS key cannot unwrap it either
    const viaOther = new HybridMlKemWrapper(other, recipient);
    expect((await failure(viaOther.unwrap({ ...w, keyName: viaOther.keyName }, aad))).code).toBe('KEYWRAP_WRONG_WRAPPER');
  });

  it('the KDF binds the KEM ciphertext, recipient key hash and AAD', async () => {
    const base = {
      classicalSecret: randomBytes(32),
      kemSharedSecret: randomBytes(32),
      kemCiphertext: randomBytes(1088),
      recipientPublicKeyHash: publicKeyHash(recipient.publicKey),
      aad,
    };
    const k0 = deriveHybridKek(base);
    expect(deriveHybridKek(base)).toEqual(k0);
    const flipped = Buffer.from(base.kemCiphertext);
    flipped[0] ^= 1;
    expect(deriveHybridKek({ ...base, kemCiphertext: flipped }).equals(k0)).toBe(false);
    expect(deriveHybridKek({ ...base, recipientPublicKeyHash: randomBytes(32) }).equals(k0)).toBe(false);
    expect(deriveHybridKek({ ...base, aad: Buffer.from('other') }).equals(k0)).toBe(false);
    // not a XOR combiner: swapping the two secrets changes the key
    expect(deriveHybridKek({ ...base, classicalSecret: base.kemSharedSecret, kemSharedSecret: base.classicalSecret }).equals(k0)).toBe(false);
  });

  it('refuses to unwrap for another recipient key, and a tampered KEM ciphertext fails', async () => {
    const w = await new HybridMlKemWrapper(inner, recipient).wrap(randomBytes(32), aad);
    const otherRecipient = generateMlKemRecipient();
    const h2 = new HybridMlKemWrapper(inner, otherRecipient);
    expect((await failure(h2.unwrap({ ...w, keyName: h2.keyName }, aad))).code).toBe('HYBRID_KEM_MISMATCH');
    const p = parseHybridPayload(w.payload);
    const hybrid = new HybridMlKemWrapper(inner, recipient);
    const idx = w.payload.indexOf(p.kemCiphertext);
    const t = Buffer.from(w.payload);
    t[idx + 100] ^= 1;
    expect((await failure(hybrid.unwrap({ ...w, payload: t }, aad))).code).toBe('HYBRID_UNWRAP_FAILED');
  });
});
