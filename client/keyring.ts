// Per-tenant DEK lifecycle: create (generate + wrap + store), use through the cache,
// rewrap under the current key version without touching data, and shred.
import { randomBytes, randomUUID } from 'node:crypto';
import { KeyringError } from './errors';
import { isUuid } from './encoding';
import { DEK_LENGTH, decryptField, encryptField, FieldContext, parseEnvelopeHeader } from './envelope';
import { DekCache, DekCacheOptions } from './dekCache';
import { DekStore } from './dekStore';
import { dekWrapAad, KeyWrapper, parseWrappedKey, serializeWrappedKey, WrappedKey } from './kms/keyWrapper';

export interface KeyringOptions {
  store: DekStore;
  /** Wraps new DEKs and is the target of rewrap(). */
  wrapper: KeyWrapper;
  /** Wrappers still able to unwrap older blobs (e.g. the previous PKCS#11 key during rotation). */
  previous?: KeyWrapper[];
  cache: DekCache | DekCacheOptions;
}

export interface RewrapResult {
  rewrapped: { tenantId: string; dekId: string; wrapped: Buffer }[];
  alreadyCurrent: number;
  conflicts: number;
}

export class Keyring {
  readonly cache: DekCache;
  private readonly store: DekStore;
  private readonly wrapper: KeyWrapper;
  private readonly previous: KeyWrapper[];
  private readonly active = new Map<string, string>();
  /** Unwrap calls issued to key wrappers (cache loads + rewraps). */
  unwrapCalls = 0;
  wrapCalls = 0;

  constructor(opts: KeyringOptions) {
    this.store = opts.store;
    this.wrapper = opts.wrapper;
    this.previous = opts.previous ?? [];
    this.cache = opts.cache instanceof DekCache ? opts.cache : new DekCache(opts.cache);
  }

  private resolve(w: WrappedKey): KeyWrapper {
    const found = [this.wrapper, ...this.previous].find((x) => x.kind === w.kind && x.keyName === w.keyName);
    if (!found) throw new KeyringError('KEYRING_NO_WRAPPER', `no key wrapper configured for ${w.kind}:${w.keyName}`);
    return found;
  }

  private async unwrapStored(tenantId: string, dekId: string, wrappedBlob: Buffer): Promise<Buffer> {
    const w = parseWrappedKey(wrappedBlob);
    this.unwrapCalls++;
    const key = await this.resolve(w).unwrap(w, dekWrapAad(tenantId, dekId));
    if (key.length !== DEK_LENGTH) {
      key.fill(0);
      throw new KeyringError('KEYRING_INVALID_INPUT', 'unwrapped DEK has the wrong length');
    }
    return key;
  }

  /** Generate a new DEK for the tenant, wrap it, store it; it becomes the tenant's active DEK. */
  async createDek(tenantId: string): Promise<string> {
    if (!isUuid(tenantId)) throw new KeyringError('KEYRING_INVALID_INPUT', 'tenant id must be a UUID');
    const dekId = randomUUID();
    const dek = randomBytes(DEK_LENGTH);
    try {
      this.wrapCalls++;
      const wrapped = await this.wrapper.wrap(dek, dekWrapAad(tenantId, dekId));
      await this.store.insert({ tenantId, dekId, wrapped: serializeWrappedKey(wrapped), createdAt: new Date() });
      this.cache.prime(tenantId, dekId, dek);
      this.active.set(tenantId, dekId);
      return dekId;
    } finally {
      dek.fill(0);
    }
  }

  /** The tenant's active DEK id, creating the first DEK if the tenant has none. */
  async activeDekId(tenantId: string): Promise<string> {
    const known = this.active.get(tenantId);
    if (known) return known;
    const latest = await this.store.latest(tenantId);
    if (latest) {
      this.active.set(tenantId, latest.dekId);
      return latest.dekId;
    }
    return this.createDek(tenantId);
  }

  /** Lend the DEK to a synchronous callback (cache limits apply). */
  async withDek<T>(tenantId: string, dekId: string, fn: (key: Buffer) => T): Promise<T> {
    return this.cache.use(
      tenantId,
      dekId,
      async () => {
        const rec = await this.store.get(tenantId, dekId);
        if (!rec) throw new KeyringError('DEK_NOT_FOUND', `no DEK ${dekId} for tenant ${tenantId} (shredded or never created)`);
        return this.unwrapStored(tenantId, dekId, rec.wrapped);
      },
      fn,
    );
  }

  async encryptField(ctx: FieldContext, plaintext: Buffer | string): Promise<Buffer> {
    const dekId = await this.activeDekId(ctx.tenantId);
    return this.withDek(ctx.tenantId, dekId, (key) => encryptField({ id: dekId, key }, ctx, plaintext));
  }

  async decryptField(ctx: FieldContext, blob: Buffer): Promise<Buffer> {
    const { dekId } = parseEnvelopeHeader(blob);
    return this.withDek(ctx.tenantId, dekId, (key) => decryptField({ id: dekId, key }, ctx, blob));
  }

  /**
   * Rewrap every stored DEK (optionally one tenant's) not already under the current
   * wrapper's primary version. Data is untouched: DEKs, and so ciphertexts, do not change.
   */
  async rewrap(tenantId?: string): Promise<RewrapResult> {
    const target = await this.wrapper.describe();
    const res: RewrapResult = { rewrapped: [], alreadyCurrent: 0, conflicts: 0 };
    for (const rec of await this.store.list(tenantId)) {
      const w = parseWrappedKey(rec.wrapped);
      if (w.kind === this.wrapper.kind && w.keyName === this.wrapper.keyName && w.keyVersion === target.keyVersion) {
        res.alreadyCurrent++;
        continue;
      }
      const dek = await this.unwrapStored(rec.tenantId, rec.dekId, rec.wrapped);
      try {
        this.wrapCalls++;
        const next = serializeWrappedKey(await this.wrapper.wrap(dek, dekWrapAad(rec.tenantId, rec.dekId)));
        if (await this.store.replaceWrapped(rec.tenantId, rec.dekId, rec.wrapped, next)) {
          res.rewrapped.push({ tenantId: rec.tenantId, dekId: rec.dekId, wrapped: next });
        } else {
          res.conflicts++;
        }
      } finally {
        dek.fill(0);
      }
    }
    return res;
  }

  /**
   * Crypto-shredding: zeroise the tenant's cached DEKs and delete its wrapped DEKs from the
   * store (the data API's store emits the audit event). Its ciphertext is then unreadable.
   */
  async shred(tenantId: string): Promise<{ evicted: number; deleted: number }> {
    if (!isUuid(tenantId)) throw new KeyringError('KEYRING_INVALID_INPUT', 'tenant id must be a UUID');
    this.active.delete(tenantId);
    const evicted = this.cache.evictTenant(tenantId);
    const deleted = await this.store.deleteTenant(tenantId);
    // Evict again: an unwrap that was in flight during the delete may have re-filled the cache.
    this.cache.evictTenant(tenantId);
    return { evicted, deleted };
  }
}
