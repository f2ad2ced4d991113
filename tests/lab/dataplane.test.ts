// The procedure API against the real server: PII stored only as envelopes that the
// client decrypts; reads append READ events (actor, tenant, row, columns); the key
// vault's put/get/latest/rewrap/shred; transfers; views without PII; and bad input
// on every procedure refused with a ZT_ error under SQLSTATE 45000, writing nothing.
import mysql from 'mysql2/promise';
import { decryptField } from '../../client/envelope';
import { decodeImage } from '../../audit/format';
import { PII_BLOB_MAX } from '../../sql/tableSpecs';
import { call, createUser, envelope, fakeWrappedDek, openAccount, owner, app, tenantCounts, tenantWithDek, TenantFixture, uuid, Conn } from './support/dataplane';
import { expectSqlError, rootSql } from './support/testLab';

let o: Conn;
let a: Conn;
let F: TenantFixture;
let user: string;
let acc1: string;
let acc2: string;

beforeAll(async () => {
  o = await owner();
  a = await app();
  F = await tenantWithDek(o, a);
  user = await createUser(a, F, 'admin');
  acc1 = await openAccount(a, user, 'EUR', '100');
  acc2 = await openAccount(a, user, 'EUR');
});
afterAll(async () => { await o.end(); await a.end(); });

describe('happy path', () => {
  test('the database holds only envelopes; the client decrypts; the read is logged with actor, tenant, row and columns', async () => {
    const [raw] = await rootSql(`SELECT HEX(name_ct), HEX(email_ct), role FROM ztmysql.users WHERE id = UUID_TO_BIN('${user}');`) as [[string, string, string]];
    expect(raw[0].startsWith('5A540101')).toBe(true);
    expect(Buffer.from(raw[0], 'hex').includes(Buffer.from('Alice'))).toBe(false);
    const [row] = await call(a, 'app_get_user_encrypted', [user]);
    expect(row?.role).toBe('admin');
    const ctx = { tenantId: F.tenantId, table: 'users', rowId: user };
    expect(decryptField(F.dek, { ...ctx, column: 'name_ct' }, row?.name_ct as Buffer).toString()).toBe('Alice Example');
    expect(decryptField(F.dek, { ...ctx, column: 'email_ct' }, row?.email_ct as Buffer).toString()).toBe('alice@example.test');
    // A ciphertext moved to another column does not decrypt.
    expect(() => decryptField(F.dek, { ...ctx, column: 'email_ct' }, row?.name_ct as Buffer)).toThrow();
    const [ev] = await rootSql(`SELECT actor, BIN_TO_UUID(tenant_id), detail, HEX(pk_image) FROM ztmysql.audit_events
      WHERE table_name = 'users' AND action = 'READ' AND tenant_id = UUID_TO_BIN('${F.tenantId}') ORDER BY event_id DESC LIMIT 1;`) as [[string, string, string, string]];
    expect(ev[0]).toMatch(/^app@198\.18\./);
    expect(ev[1]).toBe(F.tenantId);
    expect(ev[2]).toBe('columns=role,name_ct,email_ct,phone_ct,dek_id');
    expect(decodeImage(Buffer.from(ev[3], 'hex')).map((x) => x.value)).toEqual([F.tenantId.replace(/-/g, ''), user.replace(/-/g, '')]);
  });

  test('app_list_users returns a page and logs one READ event per returned row', async () => {
    const u2 = await createUser(a, F);
    const before = await tenantCounts(F.tenantId);
    const rows = await call(a, 'app_list_users', [null, 100]);
    expect(rows.map((r) => r.user_id).sort()).toEqual([user, u2].sort());
    const after = await tenantCounts(F.tenantId);
    expect(after.audit_events - before.audit_events).toBe(2);
    const page = await call(a, 'app_list_users', [[user, u2].sort()[0], 100]);
    expect(page.map((r) => r.user_id)).toEqual([[user, u2].sort()[1]]);
  });

  test('transfers move money, keep balances non-negative, and the views show no PII', async () => {
    await call(a, 'app_transfer', [uuid(), acc1, acc2, '30.5']);
    const [acc] = await a.query<mysql.RowDataPacket[]>('SELECT account_id, balance FROM v_accounts ORDER BY balance');
    expect(acc.map((r) => [r.account_id, r.balance])).toEqual([[acc2, '30.5000'], [acc1, '69.5000']]);
    const [fields] = await a.query<mysql.RowDataPacket[]>('SELECT * FROM v_users LIMIT 1');
    expect(Object.keys(fields[0] ?? {}).sort()).toEqual(['created_at', 'dek_id', 'role', 'user_id']);
    const [tr] = await a.query<mysql.RowDataPacket[]>('SELECT kind, amount FROM v_transfers ORDER BY created_at');
    expect(tr.map((r) => `${r.kind}:${r.amount}`)).toEqual(['deposit:100.0000', 'transfer:30.5000']);
  });

  test('key vault: one active DEK, get only within the tenant, compare-and-set rewrap, shred', async () => {
    const T = await tenantWithDek(o, a);
    const first = (await call(a, 'app_key_latest'))[0];
    expect(first?.dek_id).toBe(T.dek.id);
    const second = uuid();
    const w2 = fakeWrappedDek();
    await call(a, 'app_key_put', [second, w2, 'projects/p/locations/l/keyRings/r/cryptoKeys/k']);
    expect((await call(a, 'app_key_latest'))[0]?.dek_id).toBe(second);
    expect((await call(a, 'app_key_list')).map((r) => [r.dek_id, r.active])).toEqual([[T.dek.id, 0], [second, 1]]);
    const w3 = fakeWrappedDek();
    expect((await call(a, 'app_key_rewrap', [second, fakeWrappedDek(), w3, 'kek/v2']))[0]?.replaced).toBe(0);
    expect((await call(a, 'app_key_rewrap', [second, w2, w3, 'kek/v2']))[0]?.replaced).toBe(1);
    const got = (await call(a, 'app_key_get', [second]))[0];
    expect(Buffer.compare(got?.wrapped_dek as Buffer, w3)).toBe(0);
    expect(got?.rotated_at).not.toBeNull();
    // The audit log keeps only the SHA-256 of wrapped keys.
    const [[img]] = await rootSql(`SELECT HEX(after_image) FROM ztmysql.audit_events WHERE table_name = 'key_vault' AND tenant_id = UUID_TO_BIN('${T.tenantId}') ORDER BY event_id DESC LIMIT 1;`) as [[string]];
    const wrapped = decodeImage(Buffer.from(img, 'hex')).find((x) => x.column === 'wrapped_dek');
    expect(wrapped?.type).toBe('DIGEST');
    expect(Buffer.from(img, 'hex').includes(w3)).toBe(false);
    expect((await call(a, 'app_key_shred'))[0]?.shredded).toBe(2);
    expect(await call(a, 'app_key_list')).toEqual([]);
    await call(a, 'security_set_tenant', [F.tenantId]);
  });
});

describe('bad input changes nothing', () => {
  const big = (n: number): Buffer => Buffer.alloc(n, 1);
  const cases = (): [string, string, unknown[], string][] => {
    const id = uuid();
    const good = (col: string): Buffer => envelope(F, col, id, 'x');
    const badMagic = Buffer.from(good('name_ct'));
    badMagic[0] = 0x41;
    const badVersion = Buffer.from(good('name_ct'));
    badVersion[2] = 2;
    const otherDek = Buffer.from(good('name_ct'));
    otherDek[4] ^= 0xff;
    const wrappedBad = fakeWrappedDek();
    wrappedBad[1] = 0x58;
    const cu = (over: Partial<Record<number, unknown>>): unknown[] => {
      const args: unknown[] = [id, 'member', good('name_ct'), good('email_ct'), good('phone_ct'), F.dek.id];
      for (const [k, v] of Object.entries(over)) args[Number(k)] = v;
      return args;
    };
    return [
      ['create user: malformed uuid', 'app_create_user_encrypted', cu({ 0: '1234' }), 'ZT_BAD_UUID'],
      ['create user: uuid with injection', 'app_create_user_encrypted', cu({ 0: "x' OR '1'='1" }), 'ZT_BAD_UUID'],
      ['create user: NULL id', 'app_create_user_encrypted', cu({ 0: null }), 'ZT_NULL'],
      ['create user: NULL name', 'app_create_user_encrypted', cu({ 2: null }), 'ZT_NULL'],
      ['create user: role injection', 'app_create_user_encrypted', cu({ 1: "admin'; DROP TABLE users; --" }), 'ZT_BAD_FORMAT'],
      ['create user: role too long', 'app_create_user_encrypted', cu({ 1: 'a'.repeat(40) }), 'ZT_TOO_LONG'],
      ['create user: not an envelope', 'app_create_user_encrypted', cu({ 2: big(60) }), 'ZT_BAD_ENVELOPE'],
      ['create user: bad magic', 'app_create_user_encrypted', cu({ 2: badMagic }), 'ZT_BAD_ENVELOPE'],
      ['create user: bad version', 'app_create_user_encrypted', cu({ 3: badVersion }), 'ZT_BAD_ENVELOPE'],
      ['create user: too short', 'app_create_user_encrypted', cu({ 2: Buffer.from('ZT') }), 'ZT_BAD_ENVELOPE'],
      ['create user: oversize envelope', 'app_create_user_encrypted', cu({ 4: Buffer.concat([good('phone_ct'), big(PII_BLOB_MAX)]) }), 'ZT_BAD_ENVELOPE'],
      ['create user: DEK mismatch', 'app_create_user_encrypted', cu({ 2: otherDek }), 'ZT_DEK_MISMATCH'],
      ['create user: unknown DEK', 'app_create_user_encrypted', cu({ 5: uuid(), 2: null }), 'ZT_NULL'],
      ['create user: existing id', 'app_create_user_encrypted', cu({ 0: user }), 'ZT_DUPLICATE'],
      ['open account: bad currency', 'app_open_account', [uuid(), user, 'eur'], 'ZT_BAD_FORMAT'],
      ['open account: currency too long', 'app_open_account', [uuid(), user, 'EURO'], 'ZT_TOO_LONG'],
      ['open account: unknown user', 'app_open_account', [uuid(), uuid(), 'EUR'], 'ZT_NOT_FOUND'],
      ['open account: existing id', 'app_open_account', [acc1, user, 'EUR'], 'ZT_DUPLICATE'],
      ['deposit: negative', 'app_deposit', [uuid(), acc1, '-5'], 'ZT_BAD_AMOUNT'],
      ['deposit: zero', 'app_deposit', [uuid(), acc1, '0.0000'], 'ZT_BAD_AMOUNT'],
      ['deposit: five decimals', 'app_deposit', [uuid(), acc1, '1.00001'], 'ZT_BAD_AMOUNT'],
      ['deposit: exponent', 'app_deposit', [uuid(), acc1, '1e3'], 'ZT_BAD_AMOUNT'],
      ['deposit: 16 integer digits', 'app_deposit', [uuid(), acc1, '1000000000000000'], 'ZT_BAD_AMOUNT'],
      ['deposit: injection', 'app_deposit', [uuid(), acc1, '1; DROP TABLE accounts'], 'ZT_BAD_AMOUNT'],
      ['deposit: NULL', 'app_deposit', [uuid(), acc1, null], 'ZT_NULL'],
      ['deposit: overflow', 'app_deposit', [uuid(), acc1, '999999999999999.9999'], 'ZT_AMOUNT_OVERFLOW'],
      ['deposit: unknown account', 'app_deposit', [uuid(), uuid(), '1'], 'ZT_NOT_FOUND'],
      ['transfer: same account', 'app_transfer', [uuid(), acc1, acc1, '1'], 'ZT_SAME_ACCOUNT'],
      ['transfer: insufficient funds', 'app_transfer', [uuid(), acc2, acc1, '100000'], 'ZT_INSUFFICIENT_FUNDS'],
      ['transfer: negative', 'app_transfer', [uuid(), acc1, acc2, '-1'], 'ZT_BAD_AMOUNT'],
      ['transfer: malformed account', 'app_transfer', [uuid(), 'acc1', acc2, '1'], 'ZT_BAD_UUID'],
      ['key put: wrapped key with bad magic', 'app_key_put', [uuid(), wrappedBad, 'kek'], 'ZT_BAD_WRAPPED_KEY'],
      ['key put: kms name with space', 'app_key_put', [uuid(), fakeWrappedDek(), 'a b'], 'ZT_BAD_FORMAT'],
      ['key put: NULL wrapped key', 'app_key_put', [uuid(), null, 'kek'], 'ZT_NULL'],
      ['key put: existing DEK id', 'app_key_put', [F.dek.id, fakeWrappedDek(), 'kek'], 'ZT_DUPLICATE'],
      ['key rewrap: malformed id', 'app_key_rewrap', ['x', fakeWrappedDek(), fakeWrappedDek(), 'kek'], 'ZT_BAD_UUID'],
      ['get user: NULL', 'app_get_user_encrypted', [null], 'ZT_NULL'],
      ['get user: unknown', 'app_get_user_encrypted', [uuid()], 'ZT_NOT_FOUND'],
      ['list users: limit 0', 'app_list_users', [null, 0], 'ZT_BAD_LIMIT'],
      ['list users: limit 101', 'app_list_users', [null, 101], 'ZT_BAD_LIMIT'],
      ['list users: NULL limit', 'app_list_users', [null, null], 'ZT_NULL'],
      ['list users: malformed cursor', 'app_list_users', ['zz', 10], 'ZT_BAD_UUID'],
    ];
  };

  test('every case: SQLSTATE 45000, its ZT_ code, and no row or event written for the tenant', async () => {
    const failures: string[] = [];
    for (const [label, proc, args, code] of cases()) {
      const before = await tenantCounts(F.tenantId);
      const e = await expectSqlError(call(a, proc, args), { code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000' }).catch((x: Error) => x);
      if (!e.message.startsWith(`${code}:`)) failures.push(`${label}: ${e.message}`);
      const after = await tenantCounts(F.tenantId);
      if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`${label}: counts changed ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    }
    expect(failures).toEqual([]);
  });

  test('grossly oversize values are refused by the parameter types (22001) and change nothing', async () => {
    const before = await tenantCounts(F.tenantId);
    await expectSqlError(call(a, 'app_create_user_encrypted', [uuid(), 'member', big(PII_BLOB_MAX + 5000), big(60), null, F.dek.id]), { sqlState: '22001' });
    await expectSqlError(call(a, 'app_open_account', [uuid(), user, 'E'.repeat(1000)]), { sqlState: '22001' });
    expect(await tenantCounts(F.tenantId)).toEqual(before);
  });

  test('admin procedures validate too', async () => {
    const bad: [unknown[], string][] = [
      [['nope', 'x'], 'ZT_BAD_UUID'],
      [[uuid(), 'ctrl\u0001char'], 'ZT_BAD_FORMAT'],
      [[uuid(), 'n'.repeat(201)], 'ZT_TOO_LONG'],
      [[uuid(), null], 'ZT_NULL'],
    ];
    for (const [args, code] of bad) {
      const e = await expectSqlError(call(o, 'admin_create_tenant', args), { sqlState: '45000' });
      expect(e.message.startsWith(code)).toBe(true);
    }
    const e = await expectSqlError(call(o, 'admin_allow_principal', [uuid(), 'app']), { sqlState: '45000' });
    expect(e.message).toMatch(/^ZT_NOT_FOUND/);
    const e2 = await expectSqlError(call(o, 'admin_allow_principal', [F.tenantId, 'App;--']), { sqlState: '45000' });
    expect(e2.message).toMatch(/^ZT_BAD_FORMAT/);
  });
});

describe('app_create_user_encrypted owns its commit: acknowledged means committed, whatever the session does', () => {
  const eventsOf = async (id: string): Promise<number> => Number((await rootSql(`SELECT COUNT(*) FROM ztmysql.audit_events
    WHERE table_name = 'users' AND action = 'INSERT' AND pk_image = CONCAT(X'010000000974656E616E745F6964', X'0600000010', UUID_TO_BIN('${F.tenantId}'),
      X'01000000026964', X'0600000010', UUID_TO_BIN('${id}'));`))[0]?.[0]);
  const rowsOf = async (id: string): Promise<number> => Number((await rootSql(`SELECT COUNT(*) FROM ztmysql.users WHERE id = UUID_TO_BIN('${id}');`))[0]?.[0]);

  test.each([
    ['autocommit = 0', 'SET autocommit = 0'],
    ['an open client transaction', 'START TRANSACTION'],
    ['READ UNCOMMITTED and autocommit = 0', 'SET SESSION transaction_isolation = \'READ-UNCOMMITTED\', autocommit = 0'],
  ])('with %s: once CALL returns, another connection sees the row and its event; a failing call leaves neither', async (_label, setup) => {
    const c = await app();
    try {
      await call(c, 'security_set_tenant', [F.tenantId]);
      await c.query(setup);
      const id = await createUser(c, F);
      // Read by root over another connection while c stays open and issues nothing more.
      expect(await rowsOf(id)).toBe(1);
      expect(await eventsOf(id)).toBe(1);
      // Failures inside the write (duplicate id; DEK not of this tenant) roll the statement back entirely.
      const dup = await expectSqlError(call(c, 'app_create_user_encrypted', [id, 'member', envelope(F, 'name_ct', id, 'x'), envelope(F, 'email_ct', id, 'y'), null, F.dek.id]), { sqlState: '45000' });
      expect(dup.message).toMatch(/^ZT_DUPLICATE:/);
      const other = { tenantId: F.tenantId, dek: { id: uuid(), key: F.dek.key } };
      const id2 = uuid();
      const unknown = await expectSqlError(call(c, 'app_create_user_encrypted', [id2, 'member', envelope(other, 'name_ct', id2, 'x'), envelope(other, 'email_ct', id2, 'y'), null, other.dek.id]), { sqlState: '45000' });
      expect(unknown.message).toMatch(/^ZT_DEK_UNKNOWN:/);
      await c.query('COMMIT');
      expect(await rowsOf(id)).toBe(1);
      expect(await eventsOf(id)).toBe(1);
      expect(await rowsOf(id2)).toBe(0);
      expect(await eventsOf(id2)).toBe(0);
      await c.query('ROLLBACK');
      expect(await rowsOf(id)).toBe(1);
    } finally {
      await c.end();
    }
  });

  test('an app session that dies right after CALL returns loses nothing (autocommit = 0)', async () => {
    const c = await app();
    await call(c, 'security_set_tenant', [F.tenantId]);
    await c.query('SET autocommit = 0');
    const id = await createUser(c, F);
    c.destroy();
    expect(await rowsOf(id)).toBe(1);
    expect(await eventsOf(id)).toBe(1);
  });
});
