import { randomUUID } from 'node:crypto';
import { DekCache } from '../../../client/dekCache';
import { InMemoryDekStore } from '../../../client/dekStore';
import { EnvelopeError, KeyringError } from '../../../client/errors';
import { FieldContext } from '../../../client/envelope';
import { Keyring } from '../../../client/keyring';
import { GcpKmsKeyWrapper } from '../../../client/kms/gcpKms';
import { parseWrappedKey } from '../../../client/kms/keyWrapper';
import { FakeKmsServer } from '../../../client/testing/fakeKmsServer';

const KEY = 'projects/p1/locations/l/keyRings/r/cryptoKeys/tenant-deks';
let kms: FakeKmsServer;
let wrapper: GcpKmsKeyWrapper;
let clock = 0;
const now = () => clock;

beforeAll(async () => {
  kms = await FakeKmsServer.start();
  kms.createKey(KEY);
  wrapper = new GcpKmsKeyWrapper({ keyName: KEY, client: kms.client() });
});
afterAll(async () => {
  await wrapper.close();
  await kms.stop();
});

const ctx = (tenantId: string, rowId: number, column = 'email'): FieldContext => ({ tenantId, table: 'users', column, rowId });

async function seeded(cacheOpts: { maxAgeMs: number; maxUses: number }) {
  const store = new InMemoryDekStore();
  const keyring = new Keyring({ store, wrapper, cache: { ...cacheOpts, now } });
  const tenant = randomUUID();
  const blob = await keyring.encryptField(ctx(tenant, 1), 'alice@example.com');
  keyring.cache.clear(); // start cold: every later DEK use must come from an unwrap
  return { store, keyring, tenant, blob };
}

describe('DEK cache limits (counted as KMS Decrypt calls)', () => {
  it('honours max uses: 25 reads with maxUses 10 cost exactly 3 unwraps', async () => {
    const { keyring, tenant, blob } = await seeded({ maxAgeMs: 60_000, maxUses: 10 });
    const before = kms.calls.decrypt;
    const hitsBefore = keyring.cache.stats.hits; // the seeding encrypt used the primed DEK once
    for (let i = 0; i < 25; i++) expect((await keyring.decryptField(ctx(tenant, 1), blob)).toString()).toBe('alice@example.com');
    expect(kms.calls.decrypt - before).toBe(3);
    expect(keyring.cache.stats.loads).toBe(3);
    expect(keyring.cache.stats.hits - hitsBefore).toBe(25);
    expect(keyring.cache.stats.evictedExhausted).toBe(2);
  });

  it('honours max age: expiry forces a fresh unwrap', async () => {
    const { keyring, tenant, blob } = await seeded({ maxAgeMs: 1000, maxUses: 1_000_000 });
    const before = kms.calls.decrypt;
    await keyring.decryptField(ctx(tenant, 1), blob);
    clock += 999;
    await keyring.decryptField(ctx(tenant, 1), blob);
    expect(kms.calls.decrypt - before).toBe(1);
    clock += 1;
    await keyring.decryptField(ctx(tenant, 1), blob);
    expect(kms.calls.decrypt - before).toBe(2);
    expect(keyring.cache.stats.evictedExpired).toBe(1);
  });

  it('concurrent misses share one unwrap, but never exceed max uses', async () => {
    const { keyring, tenant, blob } = await seeded({ maxAgeMs: 60_000, maxUses: 4 });
    const before = kms.calls.decrypt;
    const out = await Promise.all(Array.from({ length: 10 }, () => keyring.decryptField(ctx(tenant, 1), blob)));
    expect(out.every((b) => b.toString() === 'alice@example.com')).toBe(true);
    expect(kms.calls.decrypt - before).toBe(3); // ceil(10 / 4)
  });

  it('zeroises DEK buffers when they are evicted', async () => {
    const cache = new DekCache({ maxAgeMs: 60_000, maxUses: 1, now });
    const key = Buffer.alloc(32, 0xab);
    let lent: Buffer | undefined;
    await cache.use('t', 'd', async () => key, (k) => {
      lent = k;
      return k.toString('hex');
    });
    expect(lent).toBe(key);
    await cache.use('t', 'd', async () => Buffer.alloc(32, 0xcd), () => undefined); // exhausted -> evict + reload
    expect(key.equals(Buffer.alloc(32, 0))).toBe(true);
    expect(cache.evictTenant('t')).toBe(1);
  });
});

describe('rotation and crypto-shredding', () => {
  it('rewraps every DEK under the new key version without touching data, and data stays readable', async () => {
    const store = new InMemoryDekStore();
    const keyring = new Keyring({ store, wrapper, cache: { maxAgeMs: 60_000, maxUses: 1000 } });
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const rows: { c: FieldContext; blob: Buffer; value: string }[] = [];
    for (const t of tenants) {
      await keyring.createDek(t);
      for (let r = 0; r < 4; r++) {
        const value = `user-${t}-${r}@example.com`;
        rows.push({ c: ctx(t, r), blob: await keyring.encryptField(ctx(t, r), value), value });
      }
    }
    await keyring.createDek(tenants[0]); // a tenant with two DEKs
    const v1 = (await store.list()).map((r) => parseWrappedKey(r.wrapped).keyVersion);
    expect(new Set(v1)).toEqual(new Set([`${KEY}/cryptoKeyVersions/1`]));

    const v2 = kms.rotate(KEY);
    const blobsBefore = rows.map((r) => Buffer.from(r.blob));
    const res = await keyring.rewrap();
    expect(res.rewrapped.length).toBe(4);
    expect(res.conflicts).toBe(0);
    for (const rec of await store.list()) expect(parseWrappedKey(rec.wrapped).keyVersion).toBe(v2);
    expect((await keyring.rewrap()).alreadyCurrent).toBe(4); // idempotent

    // the old version is gone: every DEK must now unwrap under v2 only, and all data reads back
    kms.disableVersion(KEY, 1);
    keyring.cache.clear();
    for (const r of rows) expect((await keyring.decryptField(r.c, r.blob)).toString()).toBe(r.value);
    rows.forEach((r, i) => expect(r.blob).toEqual(blobsBefore[i]));
  });

  it('shredding a tenant makes its data unreadable and leaves other tenants untouched', async () => {
    const store = new InMemoryDekStore();
    const keyring = new Keyring({ store, wrapper, cache: { maxAgeMs: 60_000, maxUses: 1000 } });
    const [a, b] = [randomUUID(), randomUUID()];
    const blobA = await keyring.encryptField(ctx(a, 1), 'tenant-a-secret');
    const blobB = await keyring.encryptField(ctx(b, 1), 'tenant-b-secret');
    expect(await keyring.shred(a)).toEqual({ evicted: 1, deleted: 1 });
    const err = await keyring.decryptField(ctx(a, 1), blobA).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeyringError);
    expect((err as KeyringError).code).toBe('DEK_NOT_FOUND');
    expect((await store.list(a)).length).toBe(0);
    keyring.cache.clear();
    expect((await keyring.decryptField(ctx(b, 1), blobB)).toString()).toBe('tenant-b-secret');
    // tenant A's blob presented as tenant B's is still refused (DEK lookup is per tenant)
    await expect(keyring.decryptField(ctx(b, 1), blobA)).rejects.toThrow(KeyringError);
    // a fresh DEK for A does not revive old data
    await keyring.createDek(a);
    await expect(keyring.decryptField(ctx(a, 1), blobA)).rejects.toThrow(KeyringError);
  });

  it('a row moved between tenants or columns fails even though each tenant has its DEK', async () => {
    const keyring = new Keyring({ store: new InMemoryDekStore(), wrapper, cache: { maxAgeMs: 60_000, maxUses: 1000 } });
    const t = randomUUID();
    const blob = await keyring.encryptField(ctx(t, 1, 'email'), 'x@example.com');
    await expect(keyring.decryptField(ctx(t, 1, 'phone'), blob)).rejects.toThrow(EnvelopeError);
    await expect(keyring.decryptField(ctx(t, 2, 'email'), blob)).rejects.toThrow(/envelope authentication failed/);
  });
});
