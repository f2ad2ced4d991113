// DekStore over the key vault procedures (app_key_*): the Keyring keeps each tenant's
// wrapped DEKs in the database, reached only through tenant-bound pooled sessions.
// Crypto-shredding is app_key_shred, whose DELETEs the key_vault audit trigger logs.
import { DekStore, StoredDek } from './dekStore';
import { KeyringError } from './errors';
import { parseWrappedKey } from './kms/keyWrapper';
import { keyGet, keyLatest, keyList, keyPut, keyRewrap, keyShred, KeyVaultRow } from './dataApi';
import { TenantSessions } from './tenantSession';

const stored = (tenantId: string, r: KeyVaultRow): StoredDek => ({ tenantId, dekId: r.dekId, wrapped: r.wrappedDek, createdAt: r.createdAt });

export class KeyVaultDekStore implements DekStore {
  /**
   * `listTenants` serves list() without a tenant (rotation of every tenant): the key
   * vault procedures only ever show the bound tenant's keys.
   */
  constructor(
    private readonly sessions: TenantSessions,
    private readonly listTenants?: () => Promise<string[]>,
  ) {}

  async insert(rec: StoredDek): Promise<void> {
    const { keyName } = parseWrappedKey(rec.wrapped);
    await this.sessions.run(rec.tenantId, (c) => keyPut(c, rec.dekId, rec.wrapped, keyName));
  }

  async get(tenantId: string, dekId: string): Promise<StoredDek | undefined> {
    const r = await this.sessions.run(tenantId, (c) => keyGet(c, dekId));
    return r ? stored(tenantId, r) : undefined;
  }

  async latest(tenantId: string): Promise<StoredDek | undefined> {
    const r = await this.sessions.run(tenantId, (c) => keyLatest(c));
    return r ? stored(tenantId, r) : undefined;
  }

  async list(tenantId?: string): Promise<StoredDek[]> {
    if (tenantId !== undefined) return (await this.sessions.run(tenantId, (c) => keyList(c))).map((r) => stored(tenantId, r));
    if (!this.listTenants) throw new KeyringError('KEYRING_INVALID_INPUT', 'listing DEKs of every tenant needs a tenant list (give the tenants, or an admin principal)');
    const out: StoredDek[] = [];
    for (const t of await this.listTenants()) out.push(...(await this.list(t)));
    return out;
  }

  async replaceWrapped(tenantId: string, dekId: string, expected: Buffer, next: Buffer): Promise<boolean> {
    const { keyName } = parseWrappedKey(next);
    return this.sessions.run(tenantId, (c) => keyRewrap(c, dekId, expected, next, keyName));
  }

  async deleteTenant(tenantId: string): Promise<number> {
    return this.sessions.run(tenantId, (c) => keyShred(c));
  }
}
