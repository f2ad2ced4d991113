// DEK lifecycle against the lab's real key vault and SoftHSM2 token: the cache's limits
// (counted as wrapper calls that reach the token), KEK rotation (a new key label on the
// token = a new PKCS#11 key version) that rewraps every DEK and leaves every record
// readable without touching data, and crypto-shredding with its audit events.
import { randomBytes } from 'node:crypto';
import { ZtClient, ZtDecryptError } from '../../client/ztClient';
import { pkcs11KeyName } from '../../client/kmsConfig';
import { parseWrappedKey } from '../../client/kms/keyWrapper';
import { ensureLabHsm } from '../../lab/hsm';
import { rootSql, testLab } from './support/testLab';
import { waitSealed } from './support/dataplane';
import { labClient, labKms, marker } from './support/ztClient';

const sqlUuid = (u: string): string => `UUID_TO_BIN('${u.replace(/[^0-9a-f-]/gi, '')}')`;
const inTenants = (ts: string[]): string => `tenant_id IN (${ts.map(sqlUuid).join(', ')})`;

interface Rec { tenant: string; id: string; name: string; email: string; phone: string }

async function makeUsers(zt: ZtClient, tenant: string, n: number): Promise<Rec[]> {
  const out: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const r = { name: marker('N'), email: `${marker('e')}@example.test`, phone: marker('+') };
    out.push({ tenant, id: await zt.users.create(tenant, { ...r, role: 'member' }), ...r });
  }
  return out;
}

async function expectReadable(zt: ZtClient, recs: Rec[]): Promise<void> {
  for (const r of recs) expect(await zt.users.get(r.tenant, r.id)).toMatchObject({ name: r.name, email: r.email, phone: r.phone });
}

async function expectUnreadable(zt: ZtClient, recs: Rec[], code: string): Promise<void> {
  for (const r of recs) {
    const e = await zt.users.get(r.tenant, r.id).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ZtDecryptError);
    expect((e as ZtDecryptError).code).toBe(code);
  }
}

describe('DEK cache limits against the real key vault and token', () => {
  let writer: ZtClient;
  const clients: ZtClient[] = [];
  let recs: Rec[];
  let tenants: string[];

  beforeAll(async () => {
    writer = await labClient();
    tenants = [];
    for (let i = 0; i < 3; i++) tenants.push(await writer.tenants.create(`cache-${marker('')}`));
    recs = [];
    for (const t of tenants) recs.push(...(await makeUsers(writer, t, 2)));
  });
  afterAll(async () => {
    for (const c of [writer, ...clients]) await c?.close();
  });

  const reader = async (cache: { maxAgeMs: number; maxUses: number; now?: () => number }): Promise<ZtClient> => {
    const c = await labClient({ cache });
    clients.push(c);
    return c;
  };

  test('maxUses: 10 reads x 3 fields of one DEK with maxUses 5 -> exactly 6 unwraps on the token', async () => {
    const c = await reader({ maxAgeMs: 600_000, maxUses: 5 });
    const r = recs[0];
    for (let i = 0; i < 10; i++) await c.users.get(r.tenant, r.id);
    expect(c.kmsCalls).toEqual({ wrap: 0, unwrap: 6 });
    expect(c.keyring.cache.stats).toMatchObject({ loads: 6, evictedExhausted: 5 });
  });

  test('maxAge: one unwrap per age window, however many reads', async () => {
    let now = 1_000_000;
    const c = await reader({ maxAgeMs: 1000, maxUses: 1_000_000, now: () => now });
    const r = recs[0];
    for (let i = 0; i < 5; i++) await c.users.get(r.tenant, r.id);
    expect(c.kmsCalls?.unwrap).toBe(1);
    now += 999;
    await c.users.get(r.tenant, r.id);
    expect(c.kmsCalls?.unwrap).toBe(1);
    now += 1;
    for (let i = 0; i < 5; i++) await c.users.get(r.tenant, r.id);
    expect(c.kmsCalls?.unwrap).toBe(2);
    expect(c.keyring.cache.stats.evictedExpired).toBe(1);
  });

  test('within the limits, unwraps = distinct DEKs (3 tenants, 60 reads)', async () => {
    const c = await reader({ maxAgeMs: 600_000, maxUses: 1_000_000 });
    for (let i = 0; i < 60; i++) {
      const r = recs[i % recs.length];
      await c.users.get(r.tenant, r.id);
    }
    expect(c.kmsCalls).toEqual({ wrap: 0, unwrap: tenants.length });
  });
});

describe('KEK rotation on the token: rewrap every DEK, touch no data', () => {
  const suffix = randomBytes(4).toString('hex');
  const [l1, l2] = [`rot1-${suffix}`, `rot2-${suffix}`];
  const clients: ZtClient[] = [];
  let tenants: string[];
  let recs: Rec[];
  const open = async (keyLabel: string, previousKeys: 'token' | 'none'): Promise<ZtClient> => {
    const c = await labClient({ kmsOptions: { keyLabel, previousKeys } });
    clients.push(c);
    return c;
  };
  const usersDigest = async (): Promise<string> =>
    (await rootSql(`SELECT SHA2(GROUP_CONCAT(HEX(tenant_id), HEX(id), HEX(name_ct), HEX(email_ct), HEX(phone_ct), HEX(dek_id) ORDER BY tenant_id, id), 256)
      FROM ztmysql.users WHERE ${inTenants(tenants)};`))[0][0];
  const vault = async (): Promise<{ name: string; rotated: string; wrapped: Buffer }[]> =>
    (await rootSql(`SELECT kms_key_name, COALESCE(rotated_at, 'NULL'), HEX(wrapped_dek) FROM ztmysql.key_vault WHERE ${inTenants(tenants)};`))
      .map(([name, rotated, w]) => ({ name, rotated, wrapped: Buffer.from(w, 'hex') }));

  beforeAll(async () => {
    // Two new keys on the lab token (created before any wrapper opens them in this process).
    const ids = ensureLabHsm(testLab().inst, [l1, l2]);
    expect(Object.keys(ids).sort()).toEqual([l1, l2].sort());
    const v1 = await open(l1, 'none');
    tenants = [await v1.tenants.create(`rot-${marker('')}`), await v1.tenants.create(`rot-${marker('')}`)];
    recs = [...(await makeUsers(v1, tenants[0], 2)), ...(await makeUsers(v1, tenants[1], 2))];
    await v1.keys.newDek(tenants[0]); // tenant 0 gets a second DEK, used by the next record
    recs.push(...(await makeUsers(v1, tenants[0], 1)));
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
  });

  test('rotate to the new key: 3 DEKs rewrapped, data bytes unchanged, every record readable with only the new key', async () => {
    const token = labKms().tokenLabel as string;
    const before = await vault();
    expect(before).toHaveLength(3);
    expect(before.every((r) => r.name === pkcs11KeyName(token, l1) && r.rotated === 'NULL')).toBe(true);
    const digest = await usersDigest();

    const v2 = await open(l2, 'token'); // wraps with l2, still unwraps l1 (another key on the token)
    const res = await v2.keys.rotate({ tenants });
    expect(res).toMatchObject({ tenants: 2, alreadyCurrent: 0, conflicts: 0 });
    expect(res.rewrapped).toHaveLength(3);

    const after = await vault();
    expect(after).toHaveLength(3);
    for (const r of after) {
      expect(r.name).toBe(pkcs11KeyName(token, l2));
      expect(r.rotated).not.toBe('NULL');
      const w = parseWrappedKey(r.wrapped);
      expect(w.keyName).toBe(pkcs11KeyName(token, l2));
      expect(w.keyVersion.startsWith(`${l2}#`)).toBe(true);
    }
    expect(await usersDigest()).toBe(digest); // no ciphertext touched

    await expectReadable(await open(l2, 'none'), recs); // the new key alone suffices
    await expectUnreadable(await open(l1, 'none'), recs, 'KEYRING_NO_WRAPPER'); // control: the old key alone no longer does

    const again = await v2.keys.rotate({ tenants });
    expect(again).toMatchObject({ alreadyCurrent: 3, conflicts: 0 });
    expect(again.rewrapped).toHaveLength(0);
  });
});

describe('crypto-shredding', () => {
  let zt: ZtClient;
  let tA: string;
  let tB: string;
  let recsA: Rec[];
  let recsB: Rec[];

  beforeAll(async () => {
    zt = await labClient();
    tA = await zt.tenants.create(`shred-a-${marker('')}`);
    tB = await zt.tenants.create(`shred-b-${marker('')}`);
    recsA = await makeUsers(zt, tA, 2);
    await zt.keys.newDek(tA);
    recsA.push(...(await makeUsers(zt, tA, 1)));
    recsB = await makeUsers(zt, tB, 2);
    await expectReadable(zt, [...recsA, ...recsB]); // warm cache
  });
  afterAll(async () => {
    await zt?.close();
  });

  test('shred A: none of A\'s records decrypt (warm or cold cache), B is untouched, ciphertext remains, DELETE audit events are logged and sealed', async () => {
    const bVault = (await rootSql(`SELECT SHA2(GROUP_CONCAT(HEX(wrapped_dek) ORDER BY dek_id), 256), COUNT(*) FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tB)};`))[0];
    const res = await zt.keys.shred(tA);
    expect(res.deleted).toBe(2);
    expect(res.evicted).toBeGreaterThanOrEqual(1);

    await expectUnreadable(zt, recsA, 'DEK_NOT_FOUND');
    const cold = await labClient();
    try {
      await expectUnreadable(cold, recsA, 'DEK_NOT_FOUND');
      await expectReadable(cold, recsB);
    } finally {
      await cold.close();
    }
    await expectReadable(zt, recsB);

    const [[kvA, usersA]] = await rootSql(`SELECT (SELECT COUNT(*) FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tA)}),
      (SELECT COUNT(*) FROM ztmysql.users WHERE tenant_id = ${sqlUuid(tA)});`);
    expect([Number(kvA), Number(usersA)]).toEqual([0, 3]);
    expect((await rootSql(`SELECT SHA2(GROUP_CONCAT(HEX(wrapped_dek) ORDER BY dek_id), 256), COUNT(*) FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tB)};`))[0]).toEqual(bVault);

    await waitSealed();
    const events = await rootSql(`SELECT e.actor, s.seq IS NOT NULL, LENGTH(e.before_image) > 0, e.after_image IS NULL
      FROM ztmysql.audit_events e LEFT JOIN ztmysql.audit_seq s ON s.event_id = e.event_id
      WHERE e.table_name = 'key_vault' AND e.action = 'DELETE' AND e.tenant_id = ${sqlUuid(tA)};`);
    expect(events).toHaveLength(2);
    for (const [actor, sealed, hasBefore, noAfter] of events) {
      expect(actor).toMatch(/^app@/);
      expect([sealed, hasBefore, noAfter]).toEqual(['1', '1', '1']);
    }
    const [[bDeletes]] = await rootSql(`SELECT COUNT(*) FROM ztmysql.audit_events WHERE table_name = 'key_vault' AND action = 'DELETE' AND tenant_id = ${sqlUuid(tB)};`);
    expect(Number(bDeletes)).toBe(0);
  });

  test('after shredding, the tenant can start over with a new DEK; the old records stay unreadable', async () => {
    const fresh = await makeUsers(zt, tA, 1);
    await expectReadable(zt, fresh);
    await expectUnreadable(zt, recsA, 'DEK_NOT_FOUND');
  });
});
