// The audit log: append-only for every account that can reach it (including the
// owner and root, short of dropping triggers); actor/time/leaf forced by the server;
// under 32 concurrent writers every committed mutation has exactly one event and
// rolled-back work none, seq is contiguous, the verifier passes and no fork exists;
// after kill -9 of mysqld every acknowledged write is present with its events.
import mysql from 'mysql2/promise';
import { decodeImage } from '../../audit/format';
import { loadAuditRows } from '../../audit/load';
import { verifyAuditLog } from '../../audit/verify';
import { AUDIT_TABLES } from '../../sql/schema';
import { app, auditor, call, createUser, openAccount, owner, tenantWithDek, uuid, waitSealed, Conn } from './support/dataplane';
import { expectSqlError, onHost, rootSql } from './support/testLab';

async function verifyNow(): Promise<ReturnType<typeof verifyAuditLog>> {
  const c = await auditor();
  try {
    return verifyAuditLog(await loadAuditRows(c));
  } finally {
    await c.end();
  }
}

async function waitMysql(): Promise<void> {
  for (let i = 0; i < 240; i++) {
    try { await rootSql('SELECT 1;'); return; } catch { await new Promise((r) => setTimeout(r, 500)); }
  }
  throw new Error('mysql did not come back');
}

describe('append-only audit tables', () => {
  let o: Conn;
  let au: Conn;
  let ap: Conn;
  beforeAll(async () => {
    o = await owner(); au = await auditor(); ap = await app();
    const f = await tenantWithDek(o, ap); // guarantees at least one event and a checkpoint
    await createUser(ap, f);
    await waitSealed();
  });
  afterAll(async () => { await o.end(); await au.end(); await ap.end(); });

  test.each(AUDIT_TABLES.map((t) => [t]))('%s: UPDATE and DELETE refused for owner (trigger), auditor and app (privilege), and root (trigger)', async (t) => {
    for (const sql of [`UPDATE ${t} SET ${t === 'audit_seq' ? 'event_id = event_id' : t === 'audit_events' ? "actor = 'x'" : 'root = root'} LIMIT 1`, `DELETE FROM ${t} LIMIT 1`]) {
      const e = await expectSqlError(o.query(sql), { code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000' });
      expect(e.message).toMatch(/^ZT_APPEND_ONLY/);
      await expectSqlError(au.query(sql), { code: 'ER_TABLEACCESS_DENIED_ERROR', sqlState: '42000' });
      await expectSqlError(ap.query(sql), { code: 'ER_TABLEACCESS_DENIED_ERROR', sqlState: '42000' });
      await expect(rootSql(`${sql.replace(t, `ztmysql.${t}`)};`)).rejects.toThrow(/ZT_APPEND_ONLY/);
    }
  });

  test('an event inserted directly by the owner gets the server-forced actor, time and leaf hash', async () => {
    await o.query("INSERT INTO audit_events (table_name, action, pk_image, actor, event_time, incarnation, leaf_hash) VALUES ('users', 'READ', '', 'root@localhost', '2000-01-01', 'forged', X'00')");
    const [[row]] = (await o.query("SELECT actor, event_time, incarnation, HEX(leaf_hash) AS h FROM audit_events WHERE event_id = LAST_INSERT_ID()")) as unknown as [[{ actor: string; event_time: Date; incarnation: string; h: string }]];
    expect(row.actor).toMatch(/^owner@198\.18\./);
    expect(row.event_time.getUTCFullYear()).toBeGreaterThan(2000);
    expect(row.incarnation).not.toBe('forged');
    expect(row.h).not.toBe('00'.repeat(32));
    await waitSealed();
    const r = await verifyNow();
    expect(r.findings).toEqual([]);
  });

  test('checkpoints cannot fork or be forged: only a checkpoint growing the head, with a consistent root, is accepted', async () => {
    const [[head]] = (await rootSql('SELECT MAX(tree_size) FROM ztmysql.audit_checkpoints;')) as [[string]];
    // An older size would reuse the head as predecessor: refused.
    let e = await expectSqlError(o.query("INSERT INTO audit_checkpoints (tree_size, root, frontier) VALUES (1, X'00', '')"), { code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000' });
    expect(e.message).toMatch(/^ZT_CHECKPOINT_ORDER/);
    // A bigger size with a frontier that does not fit, or a root that is not its fold: refused.
    const big = BigInt(head) + 1000000n;
    e = await expectSqlError(o.query(`INSERT INTO audit_checkpoints (tree_size, root, frontier) VALUES (${big}, X'00', '')`), { code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000' });
    expect(e.message).toMatch(/^ZT_CHECKPOINT_FRONTIER/);
    const pop = big.toString(2).split('').filter((x) => x === '1').length;
    e = await expectSqlError(o.query(`INSERT INTO audit_checkpoints (tree_size, root, frontier) VALUES (${big}, X'00', REPEAT(X'AB', ${32 * pop}))`), { code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000' });
    expect(e.message).toMatch(/^ZT_CHECKPOINT_ROOT/);
    // Two checkpoints can never share a predecessor.
    expect(await rootSql('SELECT COUNT(*) - COUNT(DISTINCT prev_checkpoint_hash) FROM ztmysql.audit_checkpoints;')).toEqual([['0']]);
  });
});

describe('32 concurrent writers', () => {
  test('every committed mutation has exactly one event, rolled-back work none; seq contiguous; verifier passes', async () => {
    const CLIENTS = 32;
    const ACCOUNTS = 24;
    const SECONDS = 12;
    const o = await owner();
    const setup = await app();
    const f = await tenantWithDek(o, setup);
    const user = await createUser(setup, f);
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(await openAccount(setup, user, 'EUR', '1000'));
    await setup.end();
    const [[{ base }]] = (await o.query('SELECT COALESCE(MAX(event_id), 0) AS base FROM audit_events')) as unknown as [[{ base: number }]];

    const committed: { id: string; from: string; to: string }[] = [];
    const deposits: { id: string; to: string }[] = [];
    const rejected = new Map<string, number>();
    const errors: string[] = [];
    const deadline = Date.now() + SECONDS * 1000;
    const conns = await Promise.all(Array.from({ length: CLIENTS }, () => app()));
    await Promise.all(conns.map(async (c, ci) => {
      await call(c, 'security_set_tenant', [f.tenantId]);
      let i = 0;
      while (Date.now() < deadline) {
        i++;
        const from = accounts[Math.floor(Math.random() * ACCOUNTS)] as string;
        let to = accounts[Math.floor(Math.random() * ACCOUNTS)] as string;
        if (to === from) to = accounts[(accounts.indexOf(from) + 1) % ACCOUNTS] as string;
        // Every 10th call reuses a committed transfer id: it fails on the last
        // statement, after both balance updates, so its work (and events) roll back.
        const reuse = i % 10 === 0 && committed.length > 0;
        const id = reuse ? (committed[Math.floor(Math.random() * committed.length)] as { id: string }).id : uuid();
        try {
          if (ci % 8 === 0 && i % 3 === 0) {
            await call(c, 'app_deposit', [id, to, '5']);
            deposits.push({ id, to });
          } else {
            await call(c, 'app_transfer', [id, from, to, (1 + Math.floor(Math.random() * 2000)) / 100 + '']);
            committed.push({ id, from, to });
          }
          if (reuse) errors.push(`reused id ${id} was accepted`);
        } catch (e) {
          const m = (e as Error).message;
          const code = m.split(':')[0] as string;
          rejected.set(code, (rejected.get(code) ?? 0) + 1);
          if (!['ZT_DUPLICATE', 'ZT_INSUFFICIENT_FUNDS'].includes(code)) errors.push(m);
        }
      }
    }));
    await Promise.all(conns.map((c) => c.end()));
    expect(errors).toEqual([]);
    expect(committed.length).toBeGreaterThan(200);
    expect(rejected.get('ZT_DUPLICATE') ?? 0).toBeGreaterThan(10);

    await waitSealed(60000);
    const T = `UUID_TO_BIN('${f.tenantId}')`;
    // Committed rows: exactly the acknowledged ones.
    const [[nTransfers]] = (await rootSql(`SELECT COUNT(*) FROM ztmysql.transfers WHERE tenant_id = ${T} AND kind = 'transfer';`)) as [[string]];
    expect(Number(nTransfers)).toBe(committed.length);
    // Events of this run: one INSERT per transfer row; two account UPDATEs per transfer, one per deposit.
    const ev = await rootSql(`SELECT table_name, action, COUNT(*) FROM ztmysql.audit_events WHERE tenant_id = ${T} AND event_id > ${base} GROUP BY table_name, action ORDER BY table_name, action;`);
    expect(ev).toEqual([
      ['accounts', 'UPDATE', String(2 * committed.length + deposits.length)],
      ['transfers', 'INSERT', String(committed.length + deposits.length)],
    ]);
    // No transfer pk has two INSERT events (a rolled-back duplicate left nothing).
    expect(await rootSql(`SELECT pk_image, COUNT(*) c FROM ztmysql.audit_events WHERE tenant_id = ${T} AND table_name = 'transfers' AND action = 'INSERT' GROUP BY pk_image HAVING c > 1;`)).toEqual([]);

    // Replaying the after-images in seq order gives today's balances; money is conserved.
    const c = await auditor();
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT e.after_image FROM audit_events e JOIN audit_seq s ON s.event_id = e.event_id
      WHERE e.tenant_id = UUID_TO_BIN(?) AND e.table_name = 'accounts' ORDER BY s.seq`, [f.tenantId]);
    await c.end();
    const replay = new Map<string, string>();
    for (const r of rows) {
      const img = decodeImage(r.after_image as Buffer);
      replay.set(img.find((x) => x.column === 'id')?.value as string, img.find((x) => x.column === 'balance')?.value as string);
    }
    const live = await rootSql(`SELECT HEX(id), balance FROM ztmysql.accounts WHERE tenant_id = ${T};`);
    expect(live.length).toBe(ACCOUNTS);
    for (const [id, bal] of live) expect(replay.get((id as string).toLowerCase())).toBe(bal);
    const total = live.reduce((s, [, b]) => s + Math.round(Number(b) * 10000), 0);
    expect(total).toBe((ACCOUNTS * 1000 + deposits.length * 5) * 10000);

    // The whole log: leaves, seq contiguity, every checkpoint root, the chain, no fork.
    const report = await verifyNow();
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.unsealed).toBe(0);
    expect(report.sealed).toBe(report.treeSize);
    expect(await rootSql('SELECT COUNT(*) FROM ztmysql.audit_checkpoints c1 JOIN ztmysql.audit_checkpoints c2 ON c1.prev_checkpoint_hash = c2.prev_checkpoint_hash AND c1.tree_size <> c2.tree_size;')).toEqual([['0']]);
    await o.end();
  });
});

describe('crash', () => {
  test('after kill -9 of mysqld during writes, every acknowledged write is present with its events', async () => {
    const o = await owner();
    const setup = await app();
    const f = await tenantWithDek(o, setup);
    const user = await createUser(setup, f);
    const account = await openAccount(setup, user, 'EUR');
    await setup.end();
    const acked: string[] = [];
    const conns = await Promise.all(Array.from({ length: 8 }, () => app()));
    let stop = false;
    const load = Promise.all(conns.map(async (c) => {
      await call(c, 'security_set_tenant', [f.tenantId]);
      while (!stop) {
        const id = uuid();
        try {
          await call(c, 'app_deposit', [id, account, '1']);
          acked.push(id);
        } catch {
          return; // connection lost in the crash
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 2500));
    try {
      await onHost('systemctl kill --signal=SIGKILL --kill-whom=main mysql');
      stop = true;
      await load;
      await onHost('for i in $(seq 1 60); do systemctl is-active --quiet mysql && break; systemctl start mysql 2>/dev/null && break; sleep 1; done; systemctl is-active mysql');
      await waitMysql();
    } finally {
      stop = true;
      await onHost('systemctl is-active --quiet mysql || systemctl start mysql');
      await Promise.all(conns.map((c) => { c.destroy(); return undefined; }));
      o.destroy();
    }
    expect(acked.length).toBeGreaterThan(20);
    const T = `UUID_TO_BIN('${f.tenantId}')`;
    const present = new Set((await rootSql(`SELECT BIN_TO_UUID(id) FROM ztmysql.transfers WHERE tenant_id = ${T};`)).map((r) => r[0]));
    expect(acked.filter((id) => !present.has(id))).toEqual([]);
    // Every transfer row (acknowledged or committed just before the kill) has its INSERT event, and the balance its UPDATEs.
    const [[rowsN, evN, updN]] = (await rootSql(`SELECT (SELECT COUNT(*) FROM ztmysql.transfers WHERE tenant_id = ${T}),
      (SELECT COUNT(*) FROM ztmysql.audit_events WHERE tenant_id = ${T} AND table_name = 'transfers' AND action = 'INSERT'),
      (SELECT COUNT(*) FROM ztmysql.audit_events WHERE tenant_id = ${T} AND table_name = 'accounts' AND action = 'UPDATE');`)) as [[string, string, string]];
    expect(Number(evN)).toBe(Number(rowsN));
    expect(Number(updN)).toBe(Number(rowsN));
    await waitSealed(60000);
    const report = await verifyNow();
    expect(report.findings).toEqual([]);
  });
});
