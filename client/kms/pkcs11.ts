// PKCS#11 key wrapper (SoftHSM2 in the lab, any PKCS#11 HSM in production).
// AES key wrap with padding (RFC 5649, CKM_AES_KEY_WRAP_PAD) has no associated data,
// so the AAD is bound by wrapping DEK || SHA-256(label || aad): KWP authenticates the
// whole wrapped value, so a blob unwrapped under another tenant/DEK id fails the hash
// comparison. Rationale in docs/key-wrapping.md.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { KeyWrapError } from '../errors';
import { assertWrappedBy, KeyDescription, KeyWrapper, ProtectionLevel, WrappedKey } from './keyWrapper';
import { acquirePkcs11, findSlotByTokenLabel, login, pkcs11ErrorName, releasePkcs11 } from './pkcs11Module';

const SCHEME_KWP_DEK_AADHASH = 0x01;
const AAD_HASH_LABEL = Buffer.from('ztmysql/pkcs11-kwp/aad/v1', 'ascii');
const HASH_LEN = 32;
const KWP: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };

export interface Pkcs11WrapperOptions {
  libraryPath: string;
  tokenLabel: string;
  /** User PIN; used for C_Login only, never stored in errors or logs. */
  pin: string;
  keyLabel: string;
}

function aadHash(aad: Buffer): Buffer {
  return createHash('sha256').update(AAD_HASH_LABEL).update(aad).digest();
}

export class Pkcs11KeyWrapper implements KeyWrapper {
  readonly kind = 'pkcs11' as const;
  readonly keyName: string;
  private closed = false;

  private constructor(
    private readonly p: pkcs11js.PKCS11,
    private readonly libraryPath: string,
    private readonly session: Buffer,
    private readonly kek: Buffer,
    private readonly keyVersion: string,
    private readonly protectionLevel: ProtectionLevel,
    tokenLabel: string,
    keyLabel: string,
  ) {
    this.keyName = `pkcs11:token=${encodeURIComponent(tokenLabel)};object=${encodeURIComponent(keyLabel)}`;
  }

  /** Open a session on the token, log in, and find exactly one usable AES-256 wrapping key. */
  static async open(opts: Pkcs11WrapperOptions): Promise<Pkcs11KeyWrapper> {
    if (!opts.tokenLabel || !opts.keyLabel) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'tokenLabel and keyLabel are required');
    if (typeof opts.pin !== 'string' || opts.pin.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'PIN is required');
    const p = acquirePkcs11(opts.libraryPath);
    let session: Buffer | undefined;
    try {
      const slot = findSlotByTokenLabel(p, opts.tokenLabel);
      if (!slot) throw new KeyWrapError('PKCS11_TOKEN_NOT_FOUND', `no initialised PKCS#11 token labelled "${opts.tokenLabel}"`);
      const info = p.C_GetTokenInfo(slot);
      // Be honest about SoftHSM: it is a software token, whatever the interface.
      const level: ProtectionLevel = /softhsm/i.test(info.model) || /softhsm/i.test(info.manufacturerID) ? 'SOFTWARE' : 'HSM';
      session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      login(p, session, pkcs11js.CKU_USER, opts.pin, 'user');
      p.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_LABEL, value: opts.keyLabel },
      ]);
      const found = p.C_FindObjects(session, 2);
      p.C_FindObjectsFinal(session);
      if (found.length !== 1) {
        throw new KeyWrapError('PKCS11_KEY_NOT_FOUND', `expected one AES key labelled "${opts.keyLabel}", found ${found.length}`);
      }
      const kek = found[0];
      const attrs = p.C_GetAttributeValue(session, kek, [
        { type: pkcs11js.CKA_VALUE_LEN },
        { type: pkcs11js.CKA_WRAP },
        { type: pkcs11js.CKA_UNWRAP },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_ID },
      ]);
      const lenBuf = attrs[0].value; // CK_ULONG, native endianness (little-endian on our targets)
      const valueLen = lenBuf.length === 8 ? Number(lenBuf.readBigUInt64LE(0)) : lenBuf.readUInt32LE(0);
      const flag = (i: number) => attrs[i].value.length > 0 && attrs[i].value[0] === 1;
      // The wrapping key must be AES-256, usable for wrap/unwrap, and never leave the token.
      if (valueLen !== 32 || !flag(1) || !flag(2) || flag(3)) {
        throw new KeyWrapError('PKCS11_KEY_POLICY', `key "${opts.keyLabel}" must be a non-extractable AES-256 key with CKA_WRAP and CKA_UNWRAP`);
      }
      const id = attrs[4].value.toString('hex');
      return new Pkcs11KeyWrapper(p, opts.libraryPath, session, kek, id ? `${opts.keyLabel}#${id}` : opts.keyLabel, level, opts.tokenLabel, opts.keyLabel);
    } catch (e) {
      if (session) {
        try {
          p.C_CloseSession(session);
        } catch {
          /* already failing */
        }
      }
      releasePkcs11(opts.libraryPath);
      if (e instanceof KeyWrapError) throw e;
      throw new KeyWrapError('PKCS11_FAILED', `PKCS#11 open failed (${pkcs11ErrorName(e)})`);
    }
  }

  private live(): void {
    if (this.closed) throw new KeyWrapError('PKCS11_FAILED', 'PKCS#11 wrapper is closed');
  }

  async describe(): Promise<KeyDescription> {
    this.live();
    return { protectionLevel: this.protectionLevel, keyVersion: this.keyVersion };
  }

  async wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    this.live();
    if (!Buffer.isBuffer(dek) || dek.length < 16 || dek.length > 64) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'DEK must be 16..64 bytes');
    if (!Buffer.isBuffer(aad) || aad.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'AAD is required');
    const value = Buffer.concat([dek, aadHash(aad)]);
    let obj: Buffer | undefined;
    try {
      // A short-lived session object holding DEK||H(aad), so the token can wrap it with C_WrapKey.
      obj = this.p.C_CreateObject(this.session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_VALUE, value },
      ]);
      const wrapped = this.p.C_WrapKey(this.session, KWP, this.kek, obj, Buffer.alloc(value.length + 16));
      return {
        kind: this.kind,
        keyName: this.keyName,
        keyVersion: this.keyVersion,
        payload: Buffer.concat([Buffer.from([SCHEME_KWP_DEK_AADHASH]), wrapped]),
      };
    } catch (e) {
      throw new KeyWrapError('PKCS11_FAILED', `PKCS#11 wrap failed (${pkcs11ErrorName(e)})`);
    } finally {
      value.fill(0);
      if (obj) this.destroy(obj);
    }
  }

  async unwrap(wrapped: WrappedKey, aad: Buffer): Promise<Buffer> {
    this.live();
    assertWrappedBy(this, wrapped);
    if (!Buffer.isBuffer(aad) || aad.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'AAD is required');
    const payload = wrapped.payload;
    if (payload.length < 1 + 8 || payload[0] !== SCHEME_KWP_DEK_AADHASH) throw new KeyWrapError('KEYWRAP_MALFORMED', 'unknown PKCS#11 wrap scheme');
    let obj: Buffer | undefined;
    let value: Buffer;
    try {
      obj = this.p.C_UnwrapKey(this.session, KWP, this.kek, payload.subarray(1), [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      ]);
      value = this.p.C_GetAttributeValue(this.session, obj, [{ type: pkcs11js.CKA_VALUE }])[0].value;
    } catch (e) {
      const name = pkcs11ErrorName(e);
      // Anything but a session/token problem means KWP's integrity check failed: the blob was
      // altered or wrapped under another key (SoftHSM reports that as CKR_GENERAL_ERROR).
      if (!/SESSION|USER_|DEVICE|TOKEN|PIN|CRYPTOKI|HOST_MEMORY|KEY_HANDLE/.test(name)) {
        throw new KeyWrapError('KEYWRAP_INTEGRITY', `PKCS#11 unwrap failed: wrapped key altered or from another key (${name})`);
      }
      throw new KeyWrapError('PKCS11_FAILED', `PKCS#11 unwrap failed (${name})`);
    } finally {
      if (obj) this.destroy(obj);
    }
    try {
      if (value.length <= HASH_LEN || !timingSafeEqual(value.subarray(value.length - HASH_LEN), aadHash(aad))) {
        throw new KeyWrapError('KEYWRAP_AAD_MISMATCH', 'wrapped DEK is bound to a different tenant or DEK id');
      }
      return Buffer.from(value.subarray(0, value.length - HASH_LEN));
    } finally {
      value.fill(0);
    }
  }

  private destroy(obj: Buffer): void {
    try {
      this.p.C_DestroyObject(this.session, obj);
    } catch {
      /* session objects also vanish when the session closes */
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.p.C_CloseSession(this.session);
    } finally {
      releasePkcs11(this.libraryPath);
    }
  }
}
