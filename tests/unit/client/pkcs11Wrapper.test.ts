import { existsSync, readdirSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { KeyWrapError } from '../../../client/errors';
import { dekWrapAad, parseWrappedKey, serializeWrappedKey } from '../../../client/kms/keyWrapper';
import { Pkcs11KeyWrapper } from '../../../client/kms/pkcs11';
import { createTempToken, TempToken } from './support/softhsm';

let token: TempToken;
let wrapper: Pkcs11KeyWrapper;
const tenant = randomUUID();
const dekId = randomUUID();
const aad = dekWrapAad(tenant, dekId);

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
  token = await createTempToken();
  wrapper = await Pkcs11KeyWrapper.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.userPin, keyLabel: 'kek-v1' });
});
afterAll(async () => {
  try {
    await wrapper?.close();
  } finally {
    token?.cleanup();
  }
  if (token) expect(existsSync(token.dir)).toBe(false);
});

describe('PKCS#11 wrapper on a real SoftHSM2 token', () => {
  it('initialised the token in its own temp dir (via C_InitToken, not softhsm2-util)', () => {
    expect(process.env.SOFTHSM2_CONF).toBe(token.confPath);
    expect(readdirSync(`${token.dir}/tokens`).length).toBe(1);
    expect(token.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('round-trips a DEK with CKM_AES_KEY_WRAP_PAD and describes the token honestly', async () => {
    const dek = randomBytes(32);
    const w = await wrapper.wrap(dek, aad);
    expect(w.kind).toBe('pkcs11');
    expect(w.keyName).toBe('pkcs11:token=zt-test;object=kek-v1');
    expect(w.keyVersion).toBe(`kek-v1#${token.keyId}`);
    expect(w.payload.length).toBe(1 + 64 + 8); // scheme byte + KWP(DEK || SHA-256) = 72 + 1
    expect(w.payload.includes(dek)).toBe(false);
    expect(await wrapper.unwrap(parseWrappedKey(serializeWrappedKey(w)), aad)).toEqual(dek);
    expect(await wrapper.describe()).toEqual({ protectionLevel: 'SOFTWARE', keyVersion: `kek-v1#${token.keyId}` });
    // deterministic key wrap: same DEK and AAD give the same blob; different AAD a different one
    expect((await wrapper.wrap(dek, aad)).payload).toEqual(w.payload);
    expect((await wrapper.wrap(dek, dekWrapAad(tenant, randomUUID()))).payload.equals(w.payload)).toBe(false);
  });

  it('fails with the wrong AAD (other tenant or other DEK id)', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    expect((await failure(wrapper.unwrap(w, dekWrapAad(randomUUID(), dekId)))).code).toBe('KEYWRAP_AAD_MISMATCH');
    expect((await failure(wrapper.unwrap(w, dekWrapAad(tenant, randomUUID())))).code).toBe('KEYWRAP_AAD_MISMATCH');
  });

  it('fails the KWP integrity check when any wrapped byte is altered', async () => {
    const w = await wrapper.wrap(randomBytes(32), aad);
    for (let i = 1; i < w.payload.length; i++) {
      const p = Buffer.from(w.payload);
      p[i] ^= 0x01;
      expect((await failure(wrapper.unwrap({ ...w, payload: p }, aad))).code).toBe('KEYWRAP_INTEGRITY');
    }
  });

  it('a blob wrapped under another token key does not unwrap under this one', async () => {
    await token.addKey('kek-v2');
    const w2 = await Pkcs11KeyWrapper.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.userPin, keyLabel: 'kek-v2' });
    try {
      const w = await w2.wrap(randomBytes(32), aad);
      expect((await failure(wrapper.unwrap(w, aad))).code).toBe('KEYWRAP_WRONG_WRAPPER');
      const e = await failure(wrapper.unwrap({ ...w, keyName: wrapper.keyName }, aad));
      expect(e.code).toBe('KEYWRAP_INTEGRITY');
    } finally {
      await w2.close();
    }
  });

  it('a wrong PIN fails clearly without the PIN in the message, also while another session is logged in', async () => {
    const wrongPin = 'wrong-pin-7777';
    const e = await failure(Pkcs11KeyWrapper.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: wrongPin, keyLabel: 'kek-v1' }));
    expect(e.code).toBe('PKCS11_LOGIN_FAILED');
    expect(e.message).not.toContain(wrongPin);
    expect(e.message).not.toContain(token.userPin);
    expect(e.message).toMatch(/^PKCS#11 user login failed/);
  });

  it('refuses an unknown token or key label', async () => {
    const base = { libraryPath: token.libraryPath, pin: token.userPin };
    expect((await failure(Pkcs11KeyWrapper.open({ ...base, tokenLabel: 'nope', keyLabel: 'kek-v1' }))).code).toBe('PKCS11_TOKEN_NOT_FOUND');
    expect((await failure(Pkcs11KeyWrapper.open({ ...base, tokenLabel: token.tokenLabel, keyLabel: 'missing' }))).code).toBe('PKCS11_KEY_NOT_FOUND');
  });
});
