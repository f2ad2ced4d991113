// The client SDK against the lab's real MySQL, with DEKs wrapped by the PKCS#11
// wrapper on the lab's SoftHSM2 token: round trip, what the DB stores, tampering
// (swaps between rows, columns and tenants; one altered byte), the pool/tenant rule,
// and the CLI's exit codes and stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import mysql from 'mysql2/promise';
import { ZtApiError, callProc } from '../../client/dataApi';
import { parseWrappedKey } from '../../client/kms/keyWrapper';
import { ZtClient, ZtDecryptError } from '../../client/ztClient';
import { rootSql, testLab, testOutputs } from './support/testLab';
import { labClient, labKms, marker } from './support/ztClient';

const sqlUuid = (u: string): string => `UUID_TO_BIN('${u.replace(/[^0-9a-f-]/gi, '')}')`;

async function rootHex(sql: string): Promise<string> {
  const rows = await rootSql(sql);
  if (rows.length !== 1) throw new Error(`expected one row from: ${sql}`);
  return rows[0][0];
}

async function expectDecryptError(p: Promise<unknown>, code: string, column?: string): Promise<ZtDecryptError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ZtDecryptError);
  const d = err as ZtDecryptError;
  expect(d.code).toBe(code);
  if (column) expect(d.column).toBe(column);
  return d;
}

describe('client SDK round trip (PKCS#11 on SoftHSM2, real MySQL)', () => {
  let zt: ZtClient;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    zt = await labClient();
    tenantA = await zt.tenants.create(`rt-a-${marker('')}`);
    tenantB = await zt.tenants.create(`rt-b-${marker('')}`);
  });
  afterAll(async () => {
    await zt?.close();
  });

  test('outputs.json names the lab token; the PIN file is 0600 and not in outputs', () => {
    const kms = labKms();
    const inst = testLab().inst;
    expect(kms).toMatchObject({
      provider: 'pkcs11', module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: `ztmysql-${inst.name}`, keyLabel: 'ztmysql-kek',
      keyName: `pkcs11:token=ztmysql-${inst.name};object=ztmysql-kek`, pinFile: join(inst.dir, 'secrets', 'hsm.json'),
    });
    expect(statSync(kms.pinFile as string).mode & 0o777).toBe(0o600);
    expect(existsSync(kms.confPath as string)).toBe(true);
    const pins = JSON.parse(readFileSync(kms.pinFile as string, 'utf8')) as { userPin: string; soPin: string };
    const outputsText = JSON.stringify(testOutputs());
    expect(outputsText).not.toContain(pins.userPin);
    expect(outputsText).not.toContain(pins.soPin);
    expect(zt.kmsKeyName).toBe(kms.keyName);
  });

  test('create/get/list round trip decrypts exactly what was written; the DB holds envelopes and a PKCS#11-wrapped DEK', async () => {
    const input = { name: 'Zoë Ünïcødé-Łast', role: 'member', email: 'zoe+rt@example.test', phone: '+44 20 7946 0000' };
    const id = await zt.users.create(tenantA, input);
    const got = await zt.users.get(tenantA, id);
    expect(got).toMatchObject({ id, tenantId: tenantA, ...input });
    const id2 = await zt.users.create(tenantA, { name: 'No Phone', role: 'admin', email: 'np@example.test' });
    const list = await zt.users.list(tenantA);
    expect(list.map((u) => u.id).sort()).toEqual([id, id2].sort());
    expect(list.find((u) => u.id === id2)).toMatchObject({ name: 'No Phone', phone: null, role: 'admin' });

    // As root: the users row holds v1 envelopes under the tenant's DEK, and the key vault
    // holds that DEK wrapped by the lab token's key (the wrapper's kind and key name).
    const [[nameHex, dekHex]] = await rootSql(`SELECT HEX(name_ct), HEX(dek_id) FROM ztmysql.users WHERE tenant_id = ${sqlUuid(tenantA)} AND id = ${sqlUuid(id)};`);
    const nameCt = Buffer.from(nameHex, 'hex');
    expect(nameCt.subarray(0, 4).toString('hex')).toBe('5a540101');
    expect(nameCt.subarray(4, 20).toString('hex').toUpperCase()).toBe(dekHex);
    expect(nameCt.includes(Buffer.from(input.name))).toBe(false);
    const [[wrappedHex, kmsName]] = await rootSql(`SELECT HEX(wrapped_dek), kms_key_name FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tenantA)} AND dek_id = UNHEX('${dekHex}');`);
    const w = parseWrappedKey(Buffer.from(wrappedHex, 'hex'));
    expect(w.kind).toBe('pkcs11');
    expect(w.keyName).toBe(labKms().keyName);
    expect(kmsName).toBe(labKms().keyName);
    // The DEK itself is not in the stored blob: unwrap it with the token and look for it.
    const dek = await zt.keyring.withDek(tenantA, got.dekId, (k) => Buffer.from(k));
    expect(Buffer.from(wrappedHex, 'hex').includes(dek)).toBe(false);
    dek.fill(0);
  });

  test('accounts, deposits and transfers through the procedures and views', async () => {
    const u = await zt.users.create(tenantA, { name: 'Acc Owner', role: 'member', email: 'acc@example.test' });
    const a1 = await zt.accounts.open(tenantA, u, 'EUR');
    const a2 = await zt.accounts.open(tenantA, u, 'EUR');
    await zt.accounts.deposit(tenantA, a1, '100.25');
    const t = await zt.transfers.create(tenantA, a1, a2, '40.05');
    const accounts = await zt.accounts.list(tenantA);
    expect(accounts.find((a) => a.accountId === a1)?.balance).toBe('60.2000');
    expect(accounts.find((a) => a.accountId === a2)?.balance).toBe('40.0500');
    expect((await zt.transfers.list(tenantA)).find((x) => x.transferId === t)).toMatchObject({ kind: 'transfer', fromAccountId: a1, toAccountId: a2, amount: '40.0500' });
    await expect(zt.transfers.create(tenantA, a2, a1, '1000')).rejects.toMatchObject({ name: 'ZtApiError', code: 'ZT_INSUFFICIENT_FUNDS' });
    // Tenant B sees none of it.
    expect(await zt.accounts.list(tenantB)).toEqual([]);
    await expect(zt.accounts.deposit(tenantB, a1, '1')).rejects.toMatchObject({ code: 'ZT_NOT_FOUND' });
  });

  describe('tampering as root on the base table: the client refuses to decrypt', () => {
    let u1: string;
    let u2: string;
    let uB: string;
    const secret1 = { name: marker('SECRETNAME'), role: 'member', email: `${marker('secretmail')}@example.test`, phone: marker('+1') };

    beforeAll(async () => {
      u1 = await zt.users.create(tenantA, secret1);
      u2 = await zt.users.create(tenantA, { name: 'Other Person', role: 'member', email: 'other@example.test', phone: '+1 555' });
      uB = await zt.users.create(tenantB, { name: 'Tenant B Person', role: 'member', email: 'b@example.test', phone: '+2 555' });
    });

    const hexOf = (tenant: string, user: string, col: string): Promise<string> =>
      rootHex(`SELECT HEX(${col}) FROM ztmysql.users WHERE tenant_id = ${sqlUuid(tenant)} AND id = ${sqlUuid(user)};`);
    const setCol = (tenant: string, user: string, col: string, hex: string): Promise<string[][]> =>
      rootSql(`UPDATE ztmysql.users SET ${col} = X'${hex}' WHERE tenant_id = ${sqlUuid(tenant)} AND id = ${sqlUuid(user)};`);

    async function withRestored(tenant: string, user: string, cols: string[], fn: () => Promise<void>): Promise<void> {
      const saved = await Promise.all(cols.map((c) => hexOf(tenant, user, c)));
      try {
        await fn();
      } finally {
        for (let i = 0; i < cols.length; i++) await setCol(tenant, user, cols[i], saved[i]);
      }
      // Control: restored bytes decrypt again, so the failures above came from the tampering.
      expect((await zt.users.get(tenant, user)).id).toBe(user);
    }

    test('control: untouched rows decrypt', async () => {
      expect(await zt.users.get(tenantA, u1)).toMatchObject(secret1);
    });

    test('ciphertext swapped between rows (same tenant, same DEK) fails: the row id is in the AAD', async () => {
      await withRestored(tenantA, u1, ['email_ct'], async () => {
        await setCol(tenantA, u1, 'email_ct', await hexOf(tenantA, u2, 'email_ct'));
        const e = await expectDecryptError(zt.users.get(tenantA, u1), 'ENVELOPE_AAD_MISMATCH', 'email_ct');
        expect(e.message).toContain(`users.email_ct of user ${u1}`);
        expect(e.message).toMatch(/authentication failed/);
      });
    });

    test('ciphertext swapped between columns fails: the column is in the AAD', async () => {
      await withRestored(tenantA, u1, ['name_ct', 'email_ct'], async () => {
        const [n, m] = [await hexOf(tenantA, u1, 'name_ct'), await hexOf(tenantA, u1, 'email_ct')];
        await setCol(tenantA, u1, 'name_ct', m);
        await setCol(tenantA, u1, 'email_ct', n);
        await expectDecryptError(zt.users.get(tenantA, u1), 'ENVELOPE_AAD_MISMATCH', 'name_ct');
      });
    });

    test('ciphertext moved to another tenant fails: its DEK is not that tenant\'s', async () => {
      await withRestored(tenantA, u1, ['email_ct'], async () => {
        await setCol(tenantA, u1, 'email_ct', await hexOf(tenantB, uB, 'email_ct'));
        const e = await expectDecryptError(zt.users.get(tenantA, u1), 'DEK_NOT_FOUND', 'email_ct');
        expect(e.message).toMatch(/no DEK .* for tenant/);
      });
    });

    test('ciphertext AND its wrapped DEK copied into another tenant fail: the wrap AAD binds the tenant', async () => {
      const fresh = await labClient(); // empty cache: must unwrap from the key vault
      const [[dekHex]] = await rootSql(`SELECT HEX(dek_id) FROM ztmysql.users WHERE tenant_id = ${sqlUuid(tenantB)} AND id = ${sqlUuid(uB)};`);
      try {
        await withRestored(tenantA, u1, ['email_ct'], async () => {
          await rootSql(`INSERT INTO ztmysql.key_vault (tenant_id, dek_id, wrapped_dek, kms_key_name, active)
            SELECT ${sqlUuid(tenantA)}, dek_id, wrapped_dek, kms_key_name, 0 FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tenantB)} AND dek_id = UNHEX('${dekHex}');`);
          try {
            await setCol(tenantA, u1, 'email_ct', await hexOf(tenantB, uB, 'email_ct'));
            await expectDecryptError(fresh.users.get(tenantA, u1), 'KEYWRAP_AAD_MISMATCH', 'email_ct');
          } finally {
            await rootSql(`DELETE FROM ztmysql.key_vault WHERE tenant_id = ${sqlUuid(tenantA)} AND dek_id = UNHEX('${dekHex}');`);
          }
        });
      } finally {
        await fresh.close();
      }
    });

    test.each([
      ['the last tag byte', (b: Buffer) => b.length - 1],
      ['a ciphertext byte', (_b: Buffer) => 32],
      ['a nonce byte', (_b: Buffer) => 25],
    ])('one altered byte (%s) fails', async (_what, pos) => {
      await withRestored(tenantA, u1, ['phone_ct'], async () => {
        const b = Buffer.from(await hexOf(tenantA, u1, 'phone_ct'), 'hex');
        b[pos(b)] ^= 0x01;
        await setCol(tenantA, u1, 'phone_ct', b.toString('hex'));
        const e = await expectDecryptError(zt.users.get(tenantA, u1), 'ENVELOPE_AAD_MISMATCH', 'phone_ct');
        for (const v of Object.values(secret1)) expect(e.message).not.toContain(v);
      });
    });

    test('an altered DEK id in the header names a DEK the tenant does not have', async () => {
      await withRestored(tenantA, u1, ['name_ct'], async () => {
        const b = Buffer.from(await hexOf(tenantA, u1, 'name_ct'), 'hex');
        b[10] ^= 0x80;
        await setCol(tenantA, u1, 'name_ct', b.toString('hex'));
        await expectDecryptError(zt.users.get(tenantA, u1), 'DEK_NOT_FOUND', 'name_ct');
      });
    });
  });

  describe('the pool never carries a tenant into another request', () => {
    let pooled: ZtClient;
    beforeAll(async () => {
      pooled = await labClient({ pool: { connectionLimit: 1 } });
    });
    afterAll(async () => {
      await pooled?.close();
    });

    const current = async (c: mysql.PoolConnection): Promise<string | null> => ((await callProc(c, 'security_current_tenant'))[0].tenant_id as string | null);

    test('control: a raw pooled connection that is not cleared DOES keep its tenant (the hazard the rule removes)', async () => {
      const c1 = await pooled.sessions.pool.getConnection();
      const thread = c1.threadId;
      await callProc(c1, 'security_set_tenant', [tenantA]);
      c1.release(); // no clear: what a naive pool user would do
      const c2 = await pooled.sessions.pool.getConnection();
      try {
        expect(c2.threadId).toBe(thread);
        expect(await current(c2)).toBe(tenantA);
      } finally {
        await callProc(c2, 'security_clear_tenant');
        c2.release();
      }
    });

    test('after sessions.run(A) the same connection has no tenant: procedures refuse, views are empty; B sees only B', async () => {
      const uA = await pooled.users.create(tenantA, { name: 'Pool A', role: 'member', email: 'pa@example.test' });
      const rowsA = await pooled.sessions.run(tenantA, async (c) => {
        expect(await current(c)).toBe(tenantA);
        return (await c.query('SELECT user_id FROM v_users'))[0] as { user_id: string }[];
      });
      expect(rowsA.map((r) => r.user_id)).toContain(uA);
      const raw = await pooled.sessions.pool.getConnection();
      try {
        expect(await current(raw)).toBeNull();
        const [viewRows] = await raw.query('SELECT COUNT(*) AS n FROM v_users');
        expect(Number((viewRows as { n: number }[])[0].n)).toBe(0);
        await expect(callProc(raw, 'app_list_users', [null, 10])).rejects.toMatchObject({ code: 'ZT_NO_TENANT' });
        await expect(callProc(raw, 'app_get_user_encrypted', [uA])).rejects.toBeInstanceOf(ZtApiError);
      } finally {
        raw.release();
      }
      const idsB = (await pooled.users.listIds(tenantB)).map((r) => r.userId);
      expect(idsB).not.toContain(uA);
      expect(pooled.sessions.stats.destroyed).toBe(0);
    });

    test('a request that throws still clears its tenant', async () => {
      await expect(pooled.sessions.run(tenantA, async () => { throw new Error('app failure'); })).rejects.toThrow('app failure');
      const raw = await pooled.sessions.pool.getConnection();
      try {
        expect(await current(raw)).toBeNull();
      } finally {
        raw.release();
      }
    });

    test('a connection that cannot be cleared is destroyed, not returned', async () => {
      const before = pooled.sessions.stats.destroyed;
      let thread: number | undefined;
      await expect(pooled.sessions.run(tenantA, async (c) => {
        thread = c.threadId;
        c.connection.destroy(); // the clear in finally cannot run on it
        throw new Error('connection lost');
      })).rejects.toThrow('connection lost');
      expect(pooled.sessions.stats.destroyed).toBe(before + 1);
      const raw = await pooled.sessions.pool.getConnection();
      try {
        expect(raw.threadId).not.toBe(thread);
        expect(await current(raw)).toBeNull();
      } finally {
        raw.release();
      }
    });
  });

  describe('ztmysql CLI', () => {
    const cli = (args: string[], input?: string) => {
      const r = spawnSync(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, join(__dirname, '../../cli/ztmysql.ts'), ...args], {
        encoding: 'utf8', input, env: { ...process.env, SOFTHSM2_CONF: '' }, timeout: 60_000,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const outputs = () => testLab().outputsPath;

    test('user create (PII on stdin) and get; a tampered record exits 1 with a clear error and no plaintext on stderr; bad outputs exit 2', async () => {
      const pii = { name: marker('CLINAME'), email: `${marker('climail')}@example.test`, phone: marker('+9'), role: 'member' };
      const created = cli(['user', 'create', '--outputs', outputs(), '--tenant', tenantA, '--input', '-'], JSON.stringify(pii));
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const { userId } = JSON.parse(created.stdout) as { userId: string };
      const got = cli(['user', 'get', '--outputs', outputs(), '--tenant', tenantA, '--id', userId]);
      expect(got.code).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ id: userId, name: pii.name, email: pii.email, phone: pii.phone });

      const other = await zt.users.create(tenantA, { name: 'x', role: 'member', email: 'x@example.test' });
      const otherEmail = await rootHex(`SELECT HEX(email_ct) FROM ztmysql.users WHERE tenant_id = ${sqlUuid(tenantA)} AND id = ${sqlUuid(other)};`);
      await rootSql(`UPDATE ztmysql.users SET email_ct = X'${otherEmail}' WHERE tenant_id = ${sqlUuid(tenantA)} AND id = ${sqlUuid(userId)};`);
      const bad = cli(['user', 'get', '--outputs', outputs(), '--tenant', tenantA, '--id', userId]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/ZtDecryptError ENVELOPE_AAD_MISMATCH: cannot decrypt users\.email_ct of user/);
      for (const v of Object.values(pii)) expect(bad.stderr).not.toContain(v);

      const missing = cli(['user', 'get', '--outputs', '/nonexistent/outputs.json', '--tenant', tenantA, '--id', userId]);
      expect(missing.code).toBe(2);
      expect(cli(['user', 'frobnicate', '--tenant', tenantA]).code).toBe(2);
      expect(cli(['keys', 'shred', '--outputs', outputs(), '--tenant', tenantB]).code).toBe(2); // no --yes
    });

    test('encrypt prints a record the key vault and the procedures accept, and the client decrypts it', async () => {
      const pii = { name: 'Enc Rypt', email: 'enc@example.test', phone: '+3 1' };
      const r = cli(['encrypt', '--outputs', outputs(), '--kms-key', labKms().keyName, '--tenant', tenantB, '--role', 'member', '--input', '-'], JSON.stringify(pii));
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const rec = JSON.parse(r.stdout);
      expect(rec.format).toBe('ztmysql-envelope-v1');
      expect(r.stdout).not.toContain(pii.email);
      const b64 = (s: string) => Buffer.from(s, 'base64');
      await zt.sessions.run(tenantB, async (c) => {
        await callProc(c, 'app_key_put', [rec.dek.id, b64(rec.dek.wrapped), rec.dek.kmsKeyName]);
        await callProc(c, 'app_create_user_encrypted', [rec.userId, rec.role, b64(rec.fields.name_ct), b64(rec.fields.email_ct), b64(rec.fields.phone_ct), rec.dek.id]);
      });
      expect(await zt.users.get(tenantB, rec.userId)).toMatchObject({ ...pii, role: 'member' });
    });
  });
});
