// The lab collector stores valid anchor lines as Cloud Logging LogEntry JSON in the
// sink's object layout, drops anything else, makes closed shards read-only, and never
// reuses the number of a shard that was removed.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorCollector } from '../../../lab/collector';

const record = (n: number) => ({
  ztmysql_anchor_version: 1, server_uuid: '89d56206-f020-11f1-80a6-f66b21db2029', incarnation: 'x:1', hostname: 'h',
  tree_size: n, root: 'a'.repeat(64), checkpoint_hash: 'b'.repeat(64), sealed_at: '2026-12-04T20:00:00.000000Z',
  schema_fingerprint: 'c'.repeat(64), emitted_at: new Date(Date.UTC(2026, 11, 4, 20, 0, n)).toISOString(),
});
const line = (msg: unknown, tag = 'ztmysql-anchor') => JSON.stringify({ ts: '2026-12-04T20:00:00Z', host: 'h', tag, msg: ` ${JSON.stringify(msg)}` });

let dir: string;
let collector: AnchorCollector;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ztmysql-collector-'));
  collector = new AnchorCollector({ dir, host: '127.0.0.1', port: 0, batchSeconds: 60, project: 'p', instanceId: 'i' });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hourDir = () => join(dir, 'ztmysql-anchor/2026/12/04');
const t = (s: number) => new Date(Date.UTC(2026, 11, 4, 20, 0, 0) + s * 1000);

test('a valid anchor line becomes a LogEntry in the sink layout; malformed lines are dropped', () => {
  expect(collector.handle(line(record(1)), t(0))).toBe(true);
  expect(collector.handle(line({ ...record(2), root: 'not-hex' }), t(1))).toBe(false);
  expect(collector.handle(line(record(3), 'sshd'), t(2))).toBe(false);
  expect(collector.handle('not json', t(3))).toBe(false);
  expect(readdirSync(hourDir())).toEqual(['20:00:00_20:59:59_S0.json']);
  const entries = readFileSync(join(hourDir(), '20:00:00_20:59:59_S0.json'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ logName: 'projects/p/logs/ztmysql-anchor', severity: 'NOTICE', jsonPayload: record(1) });
  expect([collector.accepted, collector.rejected]).toEqual([1, 3]);
});

test('a shard is closed read-only after its batch time, and a removed shard number is not reused', () => {
  collector.handle(line(record(1)), t(0));
  collector.handle(line(record(2)), t(61));   // batch over: S0 closed, S1 opened
  const s0 = join(hourDir(), '20:00:00_20:59:59_S0.json');
  expect(statSync(s0).mode & 0o777).toBe(0o444);
  collector.handle(line(record(3)), t(122));  // S1 closed, S2 opened
  rmSync(join(hourDir(), '20:00:00_20:59:59_S1.json'), { force: true });
  collector.handle(line(record(4)), t(183));  // must be S3, not a refilled S1
  expect(readdirSync(hourDir()).sort()).toEqual(['20:00:00_20:59:59_S0.json', '20:00:00_20:59:59_S2.json', '20:00:00_20:59:59_S3.json']);
});
