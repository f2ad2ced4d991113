// Benchmark: the full audited write path (CALL app_create_user_encrypted: tenant
// check, validation, INSERT, audit trigger, leaf hash, pending row) as the app
// principal, against plain INSERTs of the same row into an unaudited scratch table
// as the owner, over the same kind of mTLS connection, at 1, 8 and 32 clients.
// Then the sealing lag: time from an event's statement to its checkpoint.
//
//   npx tsx audit/bench/writePath.ts [--lab NAME] [--seconds N] [--clients 1,8,32] [--ceiling]
//
// --ceiling (a throwaway lab instance only: it drops safeguards as root, then restores
// them) measures how far removing parts of the audited path would go, at the largest
// client count: the procedure's tenant MAC and DEK joins, the audit_events BEFORE/AFTER
// triggers (forced actor/time/leaf hash, the sealing queue), both, and the skeleton the
// issue names and nothing more (a procedure of one INSERT with the principal check, a
// trigger writing the event and queueing it). None of these is a safe design; they
// bound what any redesign of those parts could gain.
import { randomBytes, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../client/connection';
import { loadDeploymentOutputs } from '../../client/deploymentOutputs';
import { encryptField } from '../../client/envelope';
import { labContext } from '../../lab/lab';
import { allRoutines, CTX_BYTES_SQL } from '../../sql/api';
import { auditTriggersSql, INCARNATION_SQL, PENDING_TABLE, protectedTriggersSql } from '../../sql/schema';
import { tableSpec } from '../../sql/tableSpecs';
import { EVENT_FORMAT_VERSION } from '../format';
import { labRootSql } from './labRootSql';

interface Args { lab: string; seconds: number; clients: number[]; ceiling: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { lab: 'main', seconds: 5, clients: [1, 8, 32], ceiling: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--ceiling') a.ceiling = true; else if (argv[i] === '--lab' && v) { a.lab = v; i++; } else if (argv[i] === '--seconds' && v) { a.seconds = Number(v); i++; } else if (argv[i] === '--clients' && v) { a.clients = v.split(',').map(Number); i++; } else throw new Error(`unknown argument ${argv[i]}`);
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
    // Both modes encrypt each row's fields in the loop, as the SDK does, so they send identical bytes and the client works alike.
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
  if (args.ceiling) await ceiling(args, (n) => run('plain', n), (n) => run('audited', n));
  await owner.query('DROP TABLE IF EXISTS bench_plain');
  await owner.end();
}

const CREATE_USER = 'app_create_user_encrypted';
const EVENT_TRIGGERS = ['zt_audit_events_bi', 'zt_audit_events_ai'];
const USERS_TRIGGER = 'zt_audit_users_ai';
/** The create-user INSERT…SELECT with the tenant MAC check (zt_secrets, zt_boot) and the DEK join (key_vault). */
const MAC_INSERT = / {2}INSERT INTO users \(tenant_id, id, role, name_ct, email_ct, phone_ct, dek_id\)\n {4}SELECT tp\.tenant_id[\s\S]*?;\n(?= {2}IF ROW_COUNT\(\) = 0 THEN)/;
/** The create-user INSERT with the principal check only, over the given SQL for the ids and the context bytes. */
const principalOnlyInsert = (userId: string, dekId: string, ctx: string): string => `  INSERT INTO users (tenant_id, id, role, name_ct, email_ct, phone_ct, dek_id)
    SELECT tp.tenant_id, ${userId}, p_role, p_name_ct, p_email_ct, p_phone_ct, ${dekId} FROM tenant_principals tp
    WHERE tp.tenant_id = SUBSTRING(${ctx}, 1, 16) AND tp.principal = SUBSTRING_INDEX(USER(), '@', 1);
`;
/**
 * The skeleton: create-user as one INSERT with the principal check only (no parameter
 * validation, no context MAC, no DEK check, no transaction statements), and the users
 * trigger writing the event's actor, time and incarnation itself and queueing it (no
 * audit_events triggers, no leaf hash at insert). Unsafe: the floor of the design.
 */
function skeletonSql(proc: string, usersTrigger: string): string {
  const begin = proc.indexOf('\nBEGIN\n');
  if (begin < 0) throw new Error('--ceiling: the create-user procedure no longer has the shape the skeleton edits');
  const header = proc.slice(0, begin + 7);
  const skeletonProc = `${header}  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
${principalOnlyInsert('UUID_TO_BIN(p_user_id)', 'UUID_TO_BIN(p_dek_id)', CTX_BYTES_SQL)}  IF ROW_COUNT() = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_NO_TENANT: skeleton variant'; END IF;
END`;
  const columns = 'INSERT INTO audit_events (table_name, action, pk_image, tenant_id, before_image, after_image)';
  const at = usersTrigger.indexOf('  INSERT INTO audit_events');
  if (at < 0 || !usersTrigger.includes(columns) || !usersTrigger.endsWith(')')) throw new Error('--ceiling: the users trigger no longer has the shape the skeleton edits');
  const insert = usersTrigger.slice(at)
    .replace(columns, `${columns.slice(0, -1)}, format_version, actor, event_time, incarnation)`)
    .replace(/\)$/, `, ${EVENT_FORMAT_VERSION}, USER(), NOW(6), ${INCARNATION_SQL})`);
  const trigger = `${usersTrigger.slice(0, at)}BEGIN\n${insert};\n  INSERT INTO ${PENDING_TABLE} (event_id) VALUES (LAST_INSERT_ID());\nEND`;
  return `DROP PROCEDURE ${CREATE_USER};\nDROP TRIGGER ${USERS_TRIGGER};\n${delimited([skeletonProc, trigger])}`;
}

const delimited = (stmts: string[]): string => ['DELIMITER $$', ...stmts.map((x) => `${x}\n$$`), 'DELIMITER ;', ''].join('\n');

/** The unsafe variants, each measured against plain at the largest client count; the provisioned objects restored after. */
async function ceiling(args: Args, plain: (n: number) => Promise<number>, audited: (n: number) => Promise<number>): Promise<void> {
  const proc = allRoutines().find((r) => r.name === CREATE_USER)?.sql;
  const triggers = auditTriggersSql().filter((t) => EVENT_TRIGGERS.some((n) => t.includes(`TRIGGER ${n} `)));
  const usersTrigger = protectedTriggersSql(tableSpec('users')).find((t) => t.includes(`TRIGGER ${USERS_TRIGGER} `));
  if (!proc || !MAC_INSERT.test(proc) || triggers.length !== EVENT_TRIGGERS.length || !usersTrigger) throw new Error('--ceiling: the generated SQL no longer has the shape the variants edit');
  const n = Math.max(...args.clients);
  const root = await labRootSql(args.lab);
  const withoutMac = `DROP PROCEDURE ${CREATE_USER};\n${delimited([proc.replace(MAC_INSERT, principalOnlyInsert('v_user_id', 'v_dek_id', 'v_ctx'))])}`;
  const withoutEventTriggers = EVENT_TRIGGERS.map((t) => `DROP TRIGGER ${t};`).join('\n');
  const variants: [string, string[]][] = [
    ['no tenant MAC or DEK join', [withoutMac]],
    ['no audit_events BEFORE/AFTER triggers', [withoutEventTriggers]],
    ['both', [withoutMac, withoutEventTriggers]],
    ['skeleton (both, no validation, event by users trigger)', [withoutEventTriggers, skeletonSql(proc, usersTrigger)]],
  ];
  const restore = async (): Promise<void> => {
    const drops = [...EVENT_TRIGGERS, USERS_TRIGGER].map((t) => `DROP TRIGGER IF EXISTS ${t};`).join('\n');
    await root.run(`DROP PROCEDURE IF EXISTS ${CREATE_USER};\n${drops}\n${delimited([proc, ...triggers, usersTrigger])}`);
  };
  console.log(`ceiling at ${n} clients (unsafe variants; provisioned objects restored after each):`);
  try {
    for (const [name, sql] of variants) {
      try {
        for (const x of sql) await root.run(x);
        const p = await plain(n);
        const a = await audited(n);
        console.log(`  ${name.padEnd(56)} plain ${p.toFixed(0).padStart(6)} rows/s  audited ${a.toFixed(0).padStart(6)} calls/s  ratio ${(a / p).toFixed(2)}x`);
      } finally {
        await restore();
      }
    }
  } finally {
    root.close();
  }
  console.log(`  (lab ${args.lab} now holds the variants' events, written without the leaf hash, the forced fields or the queue: \`ztmysql verify\` reports them, as it should; take the instance down)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
