// A PKCS#11 library may be C_Initialize'd only once per process, so every user
// (token setup helper, key wrappers) shares one loaded module, reference counted.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { KeyWrapError } from '../errors';

interface Loaded {
  p: pkcs11js.PKCS11;
  refs: number;
  softhsmConf?: string;
}
const loaded = new Map<string, Loaded>();

export const DEFAULT_SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export function acquirePkcs11(libraryPath: string): pkcs11js.PKCS11 {
  const cur = loaded.get(libraryPath);
  if (cur) {
    // SoftHSM reads SOFTHSM2_CONF only at C_Initialize: refuse to silently use the old token dir.
    if (cur.softhsmConf !== process.env.SOFTHSM2_CONF) {
      throw new KeyWrapError('PKCS11_FAILED', 'PKCS#11 library already initialised with a different SOFTHSM2_CONF');
    }
    cur.refs++;
    return cur.p;
  }
  const p = new pkcs11js.PKCS11();
  try {
    p.load(libraryPath);
    p.C_Initialize();
  } catch (e) {
    throw new KeyWrapError('PKCS11_FAILED', `cannot load PKCS#11 library ${libraryPath}: ${pkcs11ErrorName(e)}`);
  }
  loaded.set(libraryPath, { p, refs: 1, softhsmConf: process.env.SOFTHSM2_CONF });
  return p;
}

export function releasePkcs11(libraryPath: string): void {
  const cur = loaded.get(libraryPath);
  if (!cur) return;
  if (--cur.refs > 0) return;
  loaded.delete(libraryPath);
  try {
    cur.p.C_Finalize();
  } finally {
    cur.p.close();
  }
}

/** CKR_* name of a pkcs11js error (the native message is "CKR_X:code"), never arguments. */
export function pkcs11ErrorName(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /CKR_[A-Z_]+/.exec(msg);
  return m ? m[0] : e instanceof Error ? `non-PKCS#11 ${e.name}` : 'unknown error';
}

export function findSlotByTokenLabel(p: pkcs11js.PKCS11, label: string): Buffer | undefined {
  for (const slot of p.C_GetSlotList(true)) {
    const info = p.C_GetTokenInfo(slot);
    if (info.label.replace(/[\s\0]+$/, '') === label && (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0) return slot;
  }
  return undefined;
}

// PKCS#11 login state is per application per token: once one session is logged in,
// C_Login on another returns CKR_USER_ALREADY_LOGGED_IN without checking the PIN.
// To still refuse a wrong PIN, remember a keyed hash (random per-process key) of the
// PIN that last logged in successfully, per token, and compare against it.
const PIN_MAC_KEY = randomBytes(32);
const verifiedPins = new Map<string, Buffer>();
const pinMac = (pin: string) => createHmac('sha256', PIN_MAC_KEY).update(pin, 'utf8').digest();

/** C_Login as `userType`, mapping PIN failures to a clear error that never contains the PIN. */
export function login(p: pkcs11js.PKCS11, session: Buffer, userType: number, pin: string, who: string): void {
  const info = p.C_GetSessionInfo(session);
  const tokenKey = `${p.libPath}|${info.slotID.toString('hex')}|${userType}`;
  try {
    p.C_Login(session, userType, pin);
    verifiedPins.set(tokenKey, pinMac(pin));
  } catch (e) {
    const name = pkcs11ErrorName(e);
    if (name === 'CKR_USER_ALREADY_LOGGED_IN') {
      const known = verifiedPins.get(tokenKey);
      if (known && timingSafeEqual(known, pinMac(pin))) return;
      throw new KeyWrapError('PKCS11_LOGIN_FAILED', `PKCS#11 ${who} login failed (PIN does not match the active login)`);
    }
    throw new KeyWrapError('PKCS11_LOGIN_FAILED', `PKCS#11 ${who} login failed (${name})`);
  }
}

/** Closes a session if one was opened, then drops this use of the library (finally blocks). */
export function closeSessionAndRelease(p: pkcs11js.PKCS11, session: Buffer | undefined, libraryPath: string): void {
  if (session) {
    try {
      p.C_CloseSession(session);
    } catch {
      /* nothing to add */
    }
  }
  releasePkcs11(libraryPath);
}
