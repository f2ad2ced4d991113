import { randomBytes, randomUUID } from 'node:crypto';
import { KeyWrapError } from '../../../client/errors';
import { GcpKmsKeyWrapper } from '../../../client/kms/gcpKms';
import { dekWrapAad, parseWrappedKey, serializeWrappedKey } from '../../../client/kms/keyWrapper';
import { FakeKmsServer } from '../../../client/testing/fakeKmsServer';

const KEY = 'projects/p1/locations/europe-west1/keyRings/ztmysql/cryptoKeys/dek-wrap';
let kms: FakeKmsServer;
let wrapper: GcpKmsKeyWrapper;
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
  kms.createKey(KEY, 'HSM');
  wrapper = new GcpKmsKeyWrapper({ keyName: KEY, client: kms.client(), baseDelayMs: 5, maxDelayMs: 20 });
});
afterAll(async () => {
  await wrapper.close();
  await kms.stop();
});
beforeEach(() => {
  kms.faults = {};
});

describe('Cloud KMS wrapper against an in-process KMS gRPC server (real client library)', () => {
  it('round-trips a DEK, names the key version, and checks the key is HSM first', async () => {
    const dek = randomBytes(32);
    const before = { ...kms.calls };
    const w = await wrapper.wrap(dek, aad);
    expect(w.kind).toBe('gcp-kms');
    expect(w.keyVersion).toBe(`${KEY}/cryptoKeyVersions/1`);
    expect(w.payload.includes(dek)).toBe(false);
    const back = parseWrappedKey(serializeWrappedKey(w));
    expect(await wrapper.unwrap(back, aad)).toEqual(dek);
    expect(kms.calls.encrypt - before.encrypt).toBe(1);
    expect(kms.calls.decrypt - before.decrypt).toBe(1);
    expect(kms.calls.getCryptoKey - before.getCryptoKey).toBe(1);
    expect(await wrapper.describe()).toEqual({ protectionLevel: 'HSM', keyVersion: `${KEY}/cryptoKeyVersions/1` });
    expect(await wrapper.describeVersion(w.keyVersion)).toEqual({ protectionLevel: 'HSM', state: 'ENABLED' });
  });

  it('fails to unwrap with different AAD (tenant/DEK binding enforced by KMS)', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    const e = await failure(wrapper.unwrap(w, dekWrapAad(randomUUID(), randomUUID())));
    expect(e.code).toBe('KMS_CALL_FAILED');
    expect(e.message).toMatch(/INVALID_ARGUMENT/);
  });

  it('request-direction CRC32C mismatch is refused by the server (Encrypt and Decrypt)', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    kms.faults.corruptRequestInTransit = true;
    const e1 = await failure(wrapper.wrap(randomBytes(32), aad));
    expect(e1.code).toBe('KMS_INTEGRITY');
    expect(e1.message).toMatch(/plaintext_crc32c/);
    const e2 = await failure(wrapper.unwrap(w, aad));
    expect(e2.code).toBe('KMS_INTEGRITY');
    expect(e2.message).toMatch(/ciphertext_crc32c/);
  });

  it('refuses an Encrypt response that does not confirm it verified our checksums', async () => {
    kms.faults.skipRequestVerification = true;
    const e = await failure(wrapper.wrap(randomBytes(32), aad));
    expect(e.code).toBe('KMS_INTEGRITY');
    expect(e.message).toMatch(/did not verify the request checksums/);
  });

  it('response-direction CRC32C mismatch is refused by the client (Encrypt and Decrypt)', async () => {
    const dek = randomBytes(32);
    const w = await wrapper.wrap(dek, aad);
    kms.faults.corruptResponseCrc32c = true;
    const e1 = await failure(wrapper.wrap(randomBytes(32), aad));
    expect(e1.code).toBe('KMS_INTEGRITY');
    expect(e1.message).toMatch(/Encrypt response failed its CRC32C check/);
    const e2 = await failure(wrapper.unwrap(w, aad));
    expect(e2.code).toBe('KMS_INTEGRITY');
    expect(e2.message).toMatch(/Decrypt response failed its CRC32C check/);
    expect(e2.message).not.toContain(dek.toString('hex'));
  });

  it('refuses a key that is not HSM-protected, at key check and per response', async () => {
    const soft = 'projects/p1/locations/europe-west1/keyRings/ztmysql/cryptoKeys/soft';
    kms.createKey(soft, 'SOFTWARE');
    const sw = new GcpKmsKeyWrapper({ keyName: soft, client: kms.client() });
    try {
      const encBefore = kms.calls.encrypt;
      const e = await failure(sw.wrap(randomBytes(32), aad));
      expect(e.code).toBe('KMS_PROTECTION_LEVEL');
      expect(e.message).toMatch(/SOFTWARE, HSM required/);
      expect(kms.calls.encrypt).toBe(encBefore); // refused before sending the DEK
    } finally {
      await sw.close();
    }
    // HSM key, but the response reports SOFTWARE: refused on wrap and unwrap
    const w = await wrapper.wrap(randomBytes(32), aad);
    kms.faults.reportProtectionLevel = 'SOFTWARE';
    expect((await failure(wrapper.wrap(randomBytes(32), aad))).code).toBe('KMS_PROTECTION_LEVEL');
    expect((await failure(wrapper.unwrap(w, aad))).code).toBe('KMS_PROTECTION_LEVEL');
  });

  it('retries UNAVAILABLE a bounded number of times, then succeeds or gives up', async () => {
    const dek = randomBytes(32);
    const w = await wrapper.wrap(dek, aad);
    kms.faults.unavailableCalls = 2;
    let before = kms.calls.decrypt;
    expect(await wrapper.unwrap(w, aad)).toEqual(dek);
    expect(kms.calls.decrypt - before).toBe(3);

    kms.faults.unavailableCalls = 100;
    before = kms.calls.decrypt;
    const e = await failure(wrapper.unwrap(w, aad));
    expect(e.code).toBe('KMS_UNAVAILABLE');
    expect(e.message).toBe('Cloud KMS Decrypt failed after 4 attempts (UNAVAILABLE)');
    expect(kms.calls.decrypt - before).toBe(4); // our bound, and gax does not retry on top
  });

  it('does not retry non-retryable errors', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    const before = kms.calls.decrypt;
    await failure(wrapper.unwrap({ ...w, payload: Buffer.from(w.payload.map((b, i) => (i === 20 ? b ^ 1 : b))) }, aad));
    expect(kms.calls.decrypt - before).toBe(1);
  });

  it('refuses a wrapped key that belongs to another wrapper', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    const e = await failure(wrapper.unwrap({ ...w, keyName: `${KEY}-other` }, aad));
    expect(e.code).toBe('KEYWRAP_WRONG_WRAPPER');
  });
});
