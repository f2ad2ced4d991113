// Lab helper: initialise a SoftHSM2 token and create a non-extractable AES-256
// wrapping key. Done through PKCS#11 (C_InitToken/C_InitPIN) rather than
// softhsm2-util, which only takes PINs on the command line (visible in ps/proc).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { KeyWrapError } from '../errors';
import { acquirePkcs11, DEFAULT_SOFTHSM_LIBRARY, findSlotByTokenLabel, login, pkcs11ErrorName, closeSessionAndRelease } from './pkcs11Module';

export interface SoftHsmTokenOptions {
  /** Directory SoftHSM keeps this token in (created, mode 0700). */
  tokenDir: string;
  tokenLabel: string;
  soPin: string;
  userPin: string;
  keyLabel: string;
  libraryPath?: string;
  /** softhsm2.conf path; default `${tokenDir}.conf` (outside tokenDir, which SoftHSM scans). */
  confPath?: string;
}

export interface SoftHsmToken {
  confPath: string;
  libraryPath: string;
  tokenLabel: string;
  keyLabel: string;
  /** Hex CKA_ID of the wrapping key. */
  keyId: string;
}

/** Write a softhsm2.conf for `tokenDir` and point this process at it (SoftHSM reads it at C_Initialize). */
export function configureSoftHsm(tokenDir: string, confPath = `${path.resolve(tokenDir)}.conf`): string {
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  writeFileSync(confPath, `directories.tokendir = ${path.resolve(tokenDir)}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, {
    mode: 0o600,
  });
  process.env.SOFTHSM2_CONF = confPath;
  return confPath;
}

function checkPin(pin: string, which: string): void {
  // PKCS#11 PINs are byte strings; SoftHSM accepts 4..255 bytes.
  if (typeof pin !== 'string' || pin.length < 4 || pin.length > 255) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `${which} must be 4..255 characters`);
}

/** Generate a non-extractable, sensitive AES-256 key usable only for wrap/unwrap. Requires a logged-in user session. */
export function generateWrappingKey(p: pkcs11js.PKCS11, session: Buffer, keyLabel: string): string {
  const id = randomBytes(8);
  p.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
    { type: pkcs11js.CKA_ID, value: id },
  ]);
  return id.toString('hex');
}

function keyExists(p: pkcs11js.PKCS11, session: Buffer, keyLabel: string): string | undefined {
  p.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  const h = p.C_FindObjects(session, 1);
  p.C_FindObjectsFinal(session);
  if (h.length === 0) return undefined;
  return p.C_GetAttributeValue(session, h[0], [{ type: pkcs11js.CKA_ID }])[0].value.toString('hex');
}

/**
 * Initialise the token (if no token with this label exists yet) and make sure a
 * wrapping key with `keyLabel` exists. Idempotent, so the lab can re-run it.
 */
export async function initSoftHsmToken(opts: SoftHsmTokenOptions): Promise<SoftHsmToken> {
  checkPin(opts.soPin, 'SO PIN');
  checkPin(opts.userPin, 'user PIN');
  if (!opts.tokenLabel || Buffer.byteLength(opts.tokenLabel) > 32) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'token label must be 1..32 bytes');
  if (!opts.keyLabel) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'key label is required');
  const libraryPath = opts.libraryPath ?? DEFAULT_SOFTHSM_LIBRARY;
  const confPath = configureSoftHsm(opts.tokenDir, opts.confPath);
  const p = acquirePkcs11(libraryPath);
  let session: Buffer | undefined;
  try {
    // Guard against SoftHSM reading another config (e.g. SOFTHSM2_CONF not reaching the C
    // environment) and initialising a token in the system-wide token dir instead of ours.
    const tokenDirs = readdirSync(opts.tokenDir, { withFileTypes: true }).filter((d) => d.isDirectory()).length;
    const initialised = p.C_GetSlotList(true).filter((s) => (p.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0).length;
    if (tokenDirs !== initialised) {
      throw new KeyWrapError('PKCS11_FAILED', `SoftHSM is not using ${opts.tokenDir} (check SOFTHSM2_CONF in the process environment)`);
    }
    let slot = findSlotByTokenLabel(p, opts.tokenLabel);
    if (!slot) {
      const free = p.C_GetSlotList(true).find((s) => (p.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
      if (!free) throw new KeyWrapError('PKCS11_FAILED', 'no free SoftHSM slot to initialise');
      // PKCS#11 labels are 32 bytes, blank padded (pkcs11js would pad with NULs).
      p.C_InitToken(free, opts.soPin, opts.tokenLabel.padEnd(32, ' '));
      // SoftHSM renumbers the slot after initialisation: look it up again.
      slot = findSlotByTokenLabel(p, opts.tokenLabel);
      if (!slot) throw new KeyWrapError('PKCS11_TOKEN_NOT_FOUND', 'token not visible after initialisation');
      session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      login(p, session, pkcs11js.CKU_SO, opts.soPin, 'SO');
      p.C_InitPIN(session, opts.userPin);
      p.C_Logout(session);
    } else {
      session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    }
    login(p, session, pkcs11js.CKU_USER, opts.userPin, 'user');
    const keyId = keyExists(p, session, opts.keyLabel) ?? generateWrappingKey(p, session, opts.keyLabel);
    // No C_Logout: login state is shared by all of this process's sessions on the token, so
    // logging out would cut off any open wrapper. Closing our session is enough; the login
    // ends when the token's last session closes.
    return { confPath, libraryPath, tokenLabel: opts.tokenLabel, keyLabel: opts.keyLabel, keyId };
  } catch (e) {
    if (e instanceof KeyWrapError) throw e;
    throw new KeyWrapError('PKCS11_FAILED', `SoftHSM token setup failed (${pkcs11ErrorName(e)})`);
  } finally {
    closeSessionAndRelease(p, session, libraryPath);
  }
}
