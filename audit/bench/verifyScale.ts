// Benchmark: `verify` over a large log in the lab's real MySQL against merely
// streaming the same rows (audit_seq ⋈ audit_events in seq order, in pages, decoded by
// the driver, nothing checked), in one run, plus peak memory. Needs a throwaway lab instance: it loads a synthetic,
// correctly hashed and sealed log with the audit triggers dropped.
//
//   npx tsx audit/bench/verifyScale.ts --lab bench --events 1000000
//
// (`lab up --name bench` first; `lab down --name bench` after.)
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../client/connection';
import { loadDeploymentOutputs } from '../../client/deploymentOutputs';
import { labContext } from '../../lab/lab';
import { labRootSql } from './labRootSql';
import { synthAccounts, synthLog } from './verifySynth';
import { TABLE_SPECS } from '../../sql/tableSpecs';
import { DEFAULTS, sequencedLeaves, verifyDeployment, wireLeafPages } from '../verifyDb';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const lab = arg('lab', 'bench');
const n = Number(arg('events', '1000000'));
const batch = Number(arg('batch', '500'));
const hex = (b: Buffer | null): string => (b === null ? 'NULL' : `0x${b.toString('hex') || '00'}`.replace(/^0x00$/, b && b.length === 0 ? "''" : '0x00'));
const str = (s: string | null): string => (s === null ? 'NULL' : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

async function load(): Promise<void> {
  const root = await labRootSql(lab);
  const sqlRun = root.run;
  const started = Date.now();
  // The synthetic log's leaf hashes are its own: the triggers that would force
  // actor/time/hash and queue events must not run, so drop them on this instance.
  // The protected tables are emptied first (their events go with the audit tables),
  // then hold exactly the accounts the log leaves, so the state check passes.
  await sqlRun(`SET SESSION sql_log_bin = 0; SET FOREIGN_KEY_CHECKS = 0;
    ${[...TABLE_SPECS].reverse().map((t) => `DELETE FROM \`${t.name}\`;`).join(' ')}
    ALTER EVENT audit_sealer DISABLE;
    DROP TRIGGER IF EXISTS zt_audit_events_bi; DROP TRIGGER IF EXISTS zt_audit_events_ai; DROP TRIGGER IF EXISTS zt_audit_checkpoints_bi;
    DROP TRIGGER IF EXISTS zt_ao_audit_events_bd; DROP TRIGGER IF EXISTS zt_ao_audit_seq_bd; DROP TRIGGER IF EXISTS zt_ao_audit_checkpoints_bd;
    ${TABLE_SPECS.flatMap((t) => ['ai', 'au', 'ad'].map((k) => `DROP TRIGGER IF EXISTS zt_audit_${t.name}_${k};`)).join(' ')}
    SET FOREIGN_KEY_CHECKS = 0; DELETE FROM audit_pending; DELETE FROM audit_seq; DELETE FROM audit_checkpoints; DELETE FROM audit_events;`);
  const log = synthLog(n, batch);
  let rows: string[] = [];
  let seqRows: string[] = [];
  let sent = 0;
  const flush = async (): Promise<void> => {
    if (!rows.length) return;
    await sqlRun(`SET SESSION sql_log_bin = 0; INSERT INTO audit_events (event_id, format_version, table_name, action, pk_image, tenant_id, actor, event_time, incarnation, before_image, after_image, detail, leaf_hash) VALUES ${rows.join(',')};
      INSERT INTO audit_seq (seq, event_id) VALUES ${seqRows.join(',')};`);
    sent += rows.length;
    rows = [];
    seqRows = [];
    if (sent % 100000 === 0) process.stderr.write(`  loaded ${sent} events (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  };
  for (const { seq, event: e } of log.leaves()) {
    rows.push(`(${e.eventId},1,${str(e.tableName)},${str(e.action)},${hex(e.pkImage)},${hex(e.tenantId)},${str(e.actor)},${str(e.eventTime)},${str(e.incarnation)},${hex(e.beforeImage)},${hex(e.afterImage)},${str(e.detail)},${hex(e.leafHash)})`);
    seqRows.push(`(${seq},${e.eventId})`);
    if (rows.length === 5000) await flush();
  }
  await flush();
  let cps: string[] = [];
  for (const c of log.checkpoints()) {
    cps.push(`(${c.treeSize},${hex(c.root)},${hex(c.prevCheckpointHash)},${hex(c.checkpointHash)},${str(c.sealedAt)},${str(c.incarnation)},${hex(c.frontier)})`);
    if (cps.length === 2000) { await sqlRun(`SET SESSION sql_log_bin = 0; INSERT INTO audit_checkpoints (tree_size, root, prev_checkpoint_hash, checkpoint_hash, sealed_at, incarnation, frontier) VALUES ${cps.join(',')};`); cps = []; }
  }
  if (cps.length) await sqlRun(`SET SESSION sql_log_bin = 0; INSERT INTO audit_checkpoints (tree_size, root, prev_checkpoint_hash, checkpoint_hash, sealed_at, incarnation, frontier) VALUES ${cps.join(',')};`);
  let accounts: string[] = [];
  const flushAccounts = async (): Promise<void> => {
    if (!accounts.length) return;
    await sqlRun(`SET SESSION sql_log_bin = 0; SET FOREIGN_KEY_CHECKS = 0; INSERT INTO accounts (tenant_id, id, user_id, balance, currency, created_at, updated_at) VALUES ${accounts.join(',')};`);
    accounts = [];
  };
  for (const a of synthAccounts(n)) {
    accounts.push(`(${hex(a.tenantId)},${hex(a.id)},${hex(a.userId)},${a.balance},${str(a.currency)},${str(a.createdAt)},${str(a.updatedAt)})`);
    if (accounts.length === 5000) await flushAccounts();
  }
  await flushAccounts();
  root.close();
  process.stderr.write(`loaded ${n} events and ${Math.ceil(n / batch) + 1} checkpoints in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

/** Wall time, peak main-thread heap above the start, and peak RSS (all threads, the verifier's worker included). */
async function timeIt<T>(f: () => Promise<T>): Promise<{ ms: number; peakMiB: number; peakRssMiB: number; value: T }> {
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  let rss = process.memoryUsage().rss;
  const sample = (): void => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed);
    rss = Math.max(rss, m.rss);
  };
  const timer = setInterval(sample, 20);
  const t0 = process.hrtime.bigint();
  const value = await f();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(timer);
  sample();
  return { ms, peakMiB: (peak - base) / 1048576, peakRssMiB: rss / 1048576, value };
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-load')) await load();
  const outputs = loadDeploymentOutputs(labContext(lab).outputsPath);
  const conn = await mysql.createConnection(connectionOptions(outputs, 'auditor', { supportBigNumbers: true, bigNumberStrings: true }));
  try {
    const stream = await timeIt(async () => {
      let count = 0;
      for await (const leaf of sequencedLeaves(conn)) if (leaf.seq > 0n) count++;
      return count;
    });
    // The verifier's own reading (its query, rows taken as the bytes the server sent),
    // with nothing checked or even copied: shown for transparency, the floor of any reader
    // here; the ratio is against the decoded stream above.
    const rawStream = await timeIt(async () => {
      let count = 0;
      await wireLeafPages(conn, 5000, () => Promise.resolve(), () => { count++; });
      return count;
    });
    const verify = await timeIt(() => verifyDeployment(conn, outputs.database, { anchors: [], problems: [], objects: 0 }, { ...DEFAULTS, stateConnection: () => mysql.createConnection(connectionOptions(outputs, 'auditor')) }));
    const r = verify.value;
    console.log(JSON.stringify({
      events: stream.value, streamSeconds: +(stream.ms / 1000).toFixed(2), rawStreamSeconds: +(rawStream.ms / 1000).toFixed(2), verifySeconds: +(verify.ms / 1000).toFixed(2),
      ratio: +(verify.ms / stream.ms).toFixed(2), streamEventsPerSecond: Math.round(stream.value / (stream.ms / 1000)),
      verifyEventsPerSecond: Math.round(stream.value / (verify.ms / 1000)), streamPeakHeapMiB: +stream.peakMiB.toFixed(1),
      verifyPeakHeapMiB: +verify.peakMiB.toFixed(1), streamPeakRssMiB: Math.round(stream.peakRssMiB), verifyPeakRssMiB: Math.round(verify.peakRssMiB), treeSize: r.treeSize, findingCodes: [...new Set(r.findings.map((f) => f.code))],
      state: r.coverage.state,
    }, null, 2));
  } finally {
    await conn.end();
  }
}

main().catch((e: Error) => { console.error(e.message); process.exitCode = 1; });
