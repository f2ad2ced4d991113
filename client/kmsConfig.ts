// Key wrappers from configuration: outputs.json `kms` (or CLI flags) -> the current
// wrapper plus the wrappers that may still unwrap older DEKs (other keys on the same
// PKCS#11 token, opened lazily). PINs come from a file or the environment, never
// from arguments, and never appear in errors.
import { readFileSync, statSync } from 'node:fs';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as pkcs11js from 'pkcs11js';
import { KeyWrapError } from './errors';
import { GcpKmsKeyWrapper } from './kms/gcpKms';
import { KeyDescription, KeyWrapper, WrappedKey, WrapperKind } from './kms/keyWrapper';
import { Pkcs11KeyWrapper } from './kms/pkcs11';
import { acquirePkcs11, DEFAULT_SOFTHSM_LIBRARY, findSlotByTokenLabel, login, pkcs11ErrorName, closeSessionAndRelease } from './kms/pkcs11Module';

export const PIN_ENV = 'ZTMYSQL_PKCS11_PIN';

/** outputs.json `kms`, as the lab writes it (provider pkcs11) or the stack exports it (gcp). */
export interface KmsConfig {
  readonly provider: 'gcp' | 'pkcs11';
  /** Cloud KMS CryptoKey name, or `pkcs11:token=…;object=…`. */
  readonly keyName: string;
  readonly module?: string;
  readonly tokenLabel?: string;
  readonly keyLabel?: string;
  /** softhsm2.conf (SoftHSM only). */
  readonly confPath?: string;
  /** File holding the user PIN: JSON with `userPin`, or the PIN alone. Mode 0600. */
  readonly pinFile?: string;
}

export interface KmsOpenOptions {
  /** Wrap new DEKs (and rewrap to) this key label on the token instead of the configured one. */
  readonly keyLabel?: string;
  /** Which other keys may unwrap: every AES wrap key on the token (default) or none. */
  readonly previousKeys?: 'token' | 'none';
  /** PIN given programmatically; else $ZTMYSQL_PKCS11_PIN, else pinFile. */
  readonly pin?: string;
  /** Cloud KMS client to use (tests: the in-process KMS server's client). */
  readonly gcpClient?: KeyManagementServiceClient;
}

export interface OpenedKms {
  readonly wrapper: KeyWrapper;
  readonly previous: KeyWrapper[];
  /** Wrapper calls that reached the KMS/token (wrap + unwrap), for cache accounting. */
  readonly calls: { wrap: number; unwrap: number };
  close(): Promise<void>;
}

export function pkcs11KeyName(tokenLabel: string, keyLabel: string): string {
  return `pkcs11:token=${encodeURIComponent(tokenLabel)};object=${encodeURIComponent(keyLabel)}`;
}

/** `pkcs11:token=T;object=K` (RFC 7512 subset) -> labels. */
export function parsePkcs11KeyName(name: string): { tokenLabel: string; keyLabel: string } {
  const m = /^pkcs11:(.*)$/.exec(name);
  if (!m) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'PKCS#11 key name must start with pkcs11:');
  const attrs = new Map<string, string>();
  for (const part of m[1].split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'PKCS#11 key name: attributes must be name=value');
    try {
      attrs.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1)));
    } catch {
      throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'PKCS#11 key name: bad percent-encoding');
    }
  }
  const tokenLabel = attrs.get('token');
  const keyLabel = attrs.get('object');
  if (!tokenLabel || !keyLabel) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'PKCS#11 key name needs token= and object=');
  return { tokenLabel, keyLabel };
}

/** The user PIN from `pin`, $ZTMYSQL_PKCS11_PIN or the pin file (which must be 0600 or stricter). */
export function readPin(cfg: Pick<KmsConfig, 'pinFile'>, pin?: string): string {
  if (pin) return pin;
  const env = process.env[PIN_ENV];
  if (env) return env;
  if (!cfg.pinFile) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `no PKCS#11 PIN: set kms.pinFile or $${PIN_ENV}`);
  let text: string;
  try {
    if ((statSync(cfg.pinFile).mode & 0o077) !== 0) {
      throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `PIN file ${cfg.pinFile} must not be readable by group or others (chmod 600)`);
    }
    text = readFileSync(cfg.pinFile, 'utf8');
  } catch (e) {
    if (e instanceof KeyWrapError) throw e;
    throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `cannot read PIN file ${cfg.pinFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const j = JSON.parse(trimmed) as { userPin?: unknown };
      if (typeof j.userPin === 'string' && j.userPin) return j.userPin;
    } catch {
      /* fall through */
    }
    throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `PIN file ${cfg.pinFile} is JSON without a userPin`);
  }
  if (!trimmed) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `PIN file ${cfg.pinFile} is empty`);
  return trimmed;
}

/**
 * SoftHSM reads SOFTHSM2_CONF at C_Initialize: point this process at the configured
 * token directory, refusing to switch once another configuration is in use.
 */
export function useSoftHsmConf(confPath: string | undefined): void {
  if (!confPath) return;
  const cur = process.env.SOFTHSM2_CONF;
  if (cur && cur !== confPath) throw new KeyWrapError('PKCS11_FAILED', `this process already uses SOFTHSM2_CONF=${cur}; one SoftHSM configuration per process`);
  process.env.SOFTHSM2_CONF = confPath;
}

/** Labels of every AES key on the token that may wrap/unwrap (needs a user login). */
export function listTokenWrapKeys(libraryPath: string, tokenLabel: string, pin: string): string[] {
  const p = acquirePkcs11(libraryPath);
  let session: Buffer | undefined;
  try {
    const slot = findSlotByTokenLabel(p, tokenLabel);
    if (!slot) throw new KeyWrapError('PKCS11_TOKEN_NOT_FOUND', `no initialised PKCS#11 token labelled "${tokenLabel}"`);
    session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    login(p, session, pkcs11js.CKU_USER, pin, 'user');
    p.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_UNWRAP, value: true },
    ]);
    const handles = p.C_FindObjects(session, 1000);
    p.C_FindObjectsFinal(session);
    const labels = handles.map((h) => p.C_GetAttributeValue(session as Buffer, h, [{ type: pkcs11js.CKA_LABEL }])[0].value.toString('utf8'));
    return [...new Set(labels.filter((l) => l.length > 0))].sort();
  } catch (e) {
    if (e instanceof KeyWrapError) throw e;
    throw new KeyWrapError('PKCS11_FAILED', `listing token keys failed (${pkcs11ErrorName(e)})`);
  } finally {
    closeSessionAndRelease(p, session, libraryPath);
  }
}

/** A wrapper opened on first use (older keys that only rarely unwrap). */
class LazyWrapper implements KeyWrapper {
  private opened?: Promise<KeyWrapper>;
  constructor(
    readonly kind: WrapperKind,
    readonly keyName: string,
    private readonly open: () => Promise<KeyWrapper>,
  ) {}
  private get(): Promise<KeyWrapper> {
    if (!this.opened) {
      this.opened = this.open();
      this.opened.catch(() => { this.opened = undefined; });
    }
    return this.opened;
  }
  async wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    return (await this.get()).wrap(dek, aad);
  }
  async unwrap(w: WrappedKey, aad: Buffer): Promise<Buffer> {
    return (await this.get()).unwrap(w, aad);
  }
  async describe(): Promise<KeyDescription> {
    return (await this.get()).describe();
  }
  async close(): Promise<void> {
    const o = this.opened;
    this.opened = undefined;
    if (o) await (await o.catch(() => undefined))?.close();
  }
}

/** Counts calls that reach the underlying wrapper. */
class CountingWrapper implements KeyWrapper {
  constructor(
    private readonly inner: KeyWrapper,
    private readonly calls: { wrap: number; unwrap: number },
  ) {}
  get kind(): WrapperKind {
    return this.inner.kind;
  }
  get keyName(): string {
    return this.inner.keyName;
  }
  wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    this.calls.wrap++;
    return this.inner.wrap(dek, aad);
  }
  unwrap(w: WrappedKey, aad: Buffer): Promise<Buffer> {
    this.calls.unwrap++;
    return this.inner.unwrap(w, aad);
  }
  describe(): Promise<KeyDescription> {
    return this.inner.describe();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Opens the configured KMS: the current wrapper, and the wrappers of older keys. */
export async function openKms(cfg: KmsConfig, opts: KmsOpenOptions = {}): Promise<OpenedKms> {
  const calls = { wrap: 0, unwrap: 0 };
  if (cfg.provider === 'gcp') {
    const client = opts.gcpClient ?? new KeyManagementServiceClient();
    // Cloud KMS rotation adds versions to the same CryptoKey: one wrapper unwraps them all.
    const wrapper = new CountingWrapper(new GcpKmsKeyWrapper({ keyName: cfg.keyName, client }), calls);
    return { wrapper, previous: [], calls, close: () => wrapper.close() };
  }
  if (cfg.provider !== 'pkcs11') throw new KeyWrapError('KEYWRAP_INVALID_INPUT', `unknown KMS provider ${String(cfg.provider)}`);
  const fromName = parsePkcs11KeyName(cfg.keyName);
  const tokenLabel = cfg.tokenLabel ?? fromName.tokenLabel;
  const currentLabel = opts.keyLabel ?? cfg.keyLabel ?? fromName.keyLabel;
  const libraryPath = cfg.module ?? DEFAULT_SOFTHSM_LIBRARY;
  useSoftHsmConf(cfg.confPath);
  const pin = readPin(cfg, opts.pin);
  const openLabel = (keyLabel: string) => Pkcs11KeyWrapper.open({ libraryPath, tokenLabel, pin, keyLabel });
  const current = await openLabel(currentLabel);
  const previous: KeyWrapper[] = [];
  try {
    if ((opts.previousKeys ?? 'token') === 'token') {
      for (const label of listTokenWrapKeys(libraryPath, tokenLabel, pin)) {
        if (label === currentLabel) continue;
        previous.push(new CountingWrapper(new LazyWrapper('pkcs11', pkcs11KeyName(tokenLabel, label), () => openLabel(label)), calls));
      }
    }
  } catch (e) {
    await current.close();
    throw e;
  }
  const wrapper = new CountingWrapper(current, calls);
  return {
    wrapper,
    previous,
    calls,
    close: async () => {
      for (const w of previous) await w.close();
      await wrapper.close();
    },
  };
}
