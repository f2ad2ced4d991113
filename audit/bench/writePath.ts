// Benchmark: the full audited write path (CALL app_create_user_encrypted: tenant
// check, validation, INSERT, audit trigger, leaf hash, pending row) as the app
// principal, against plain INSERTs of the same row into an unaudited scratch table
// as the owner, over the same kind of mTLS connection, at 1, 8 and 32 clients.
// Then the sealing lag: time from an event's statement to its checkpoint.
//
//   npx tsx audit/bench/writePath.ts [--lab NAME] [--seconds N] [--clients 1,8,32]
import { randomBytes, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../client/connection';
import { loadDeploymentOutputs } from '../../client/deploymentOutputs';
import { encryptField } from '../../client/envelope';
import { labContext } from '../../lab/lab';

interface Args { lab: string; seconds: number; clients: number[] }

function parseArgs(argv: string[]): Args {
  const a: Args = { lab: 'main', seconds: 5, clients: [1, 8, 32] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--lab' && v) { a.lab = v; i++; } else if (argv[i] === '--seconds' && v) { a.seconds = Number(v); i++; } else if (argv[i] === '--clients' && v) { a.clients = v.split(',').map(Number); i++; } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

const WRAPPED = Buffer.concat([Buffer.from('ZW', 'ascii'), Buffer.from([1, 1, 0, 3]), Buffer.from('kek'), Buffer.from([0, 1]), Buffer.from('1'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const outputs = loadDeploymentOutputs(labContext(args.lab).outputsPath);
  const connect = (p: string): Promise<mysql.Connection> => mysql.createConnection(connectionOptions(outputs, p));
  const owner = await connect('owner');
  const tenantId = randomUUID();
  await owner.query('CALL admin_create_tenant(?, ?)', [tenantId, `bench-${tenantId.slice(0, 8)}`]);
  await owner.query('CALL admin_allow_principal(?, ?)', [tenantId, 'app']);
  await owner.query(`CREATE TABLE IF NOT EXISTS bench_plain (tenant_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, role VARCHAR(32) NOT NULL,
    name_ct VARBINARY(1072) NOT NULL, email_ct VARBINARY(1072) NOT NULL, phone_ct VARBINARY(1072) NULL, dek_id BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (tenant_id, id)) ENGINE=InnoDB`);
  const setup = await connect('app');
  await setup.query('CALL security_set_tenant(?)', [tenantId]);
  const dek = { id: randomUUID(), key: randomBytes(32) };
  await setup.query('CALL app_key_put(?, ?, ?)', [dek.id, WRAPPED, 'bench/kek']);
  await setup.end();
  const row = (id: string): Buffer[] => ['name_ct', 'email_ct', 'phone_ct'].map((c) =>
    encryptField(dek, { tenantId, table: 'users', column: c, rowId: id }, `${c} of ${id}`));

  type Mode = 'audited' | 'plain';
  const run = async (mode: Mode, clients: number): Promise<number> => {
    const conns = await Promise.all(Array.from({ length: clients }, () => connect(mode === 'audited' ? 'app' : 'owner')));
    if (mode === 'audited') await Promise.all(conns.map((c) => c.query('CALL security_set_tenant(?)', [tenantId])));
    // Pre-encrypt outside the timed window so both modes send identical work.
    let ops = 0;
    const deadline = Date.now() + args.seconds * 1000;
    await Promise.all(conns.map(async (c) => {
      while (Date.now() < deadline) {
        const id = randomUUID();
        const [n, e, p] = row(id);
        if (mode === 'audited') {
          await c.query('CALL app_create_user_encrypted(?, ?, ?, ?, ?, ?)', [id, 'member', n, e, p, dek.id]);
        } else {
          await c.query('INSERT INTO bench_plain (tenant_id, id, role, name_ct, email_ct, phone_ct, dek_id) VALUES (UUID_TO_BIN(?), UUID_TO_BIN(?), ?, ?, ?, ?, UUID_TO_BIN(?))',
            [tenantId, id, 'member', n, e, p, dek.id]);
        }
        ops++;
      }
    }));
    await Promise.all(conns.map((c) => c.end()));
    return ops / args.seconds;
  };

  const [[{ maxId }]] = (await owner.query('SELECT COALESCE(MAX(event_id), 0) AS maxId FROM audit_events')) as unknown as [[{ maxId: string | number }]];
  const results: { clients: number; plain: number; audited: number; ratio: number }[] = [];
  for (const n of args.clients) {
    const plain = await run('plain', n);
    const audited = await run('audited', n);
    results.push({ clients: n, plain, audited, ratio: audited / plain });
    console.log(`clients=${String(n).padStart(2)}  plain ${plain.toFixed(0).padStart(6)} rows/s  audited ${audited.toFixed(0).padStart(6)} calls/s  ratio ${(audited / plain).toFixed(2)}x`);
  }

  // Sealing lag of this run's events: checkpoint.sealed_at - event_time.
  const auditor = await connect('auditor');
  const t0 = Date.now();
  for (;;) {
    const [[{ n }]] = (await auditor.query('SELECT COUNT(*) AS n FROM audit_pending')) as unknown as [[{ n: number }]];
    if (Number(n) === 0 || Date.now() - t0 > 120000) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const [lag] = (await auditor.query(`SELECT TIMESTAMPDIFF(MICROSECOND, e.event_time, c.sealed_at) / 1000 AS ms
    FROM audit_events e JOIN audit_seq s ON s.event_id = e.event_id
    JOIN audit_checkpoints c ON c.tree_size = (SELECT MIN(c2.tree_size) FROM audit_checkpoints c2 WHERE c2.tree_size >= s.seq)
    WHERE e.event_id > ? ORDER BY ms`, [maxId])) as unknown as [{ ms: string }[]];
  const ms = lag.map((r) => Number(r.ms));
  const pct = (p: number): number => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))] ?? NaN;
  console.log(`sealing lag over ${ms.length} events: p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, max ${(ms[ms.length - 1] ?? NaN).toFixed(0)} ms`);
  console.log(JSON.stringify({ results, sealingLagMs: { p50: pct(50), p99: pct(99), events: ms.length } }));
  await auditor.end();
  await owner.query('DROP TABLE IF EXISTS bench_plain');
  await owner.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
