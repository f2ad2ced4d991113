// The verifier in a worker thread gives the very report the in-thread core gives, on
// clean and tampered synthetic logs fed as the database driver feeds them (leaf rows as
// the server sends them, checkpoints merged by size, unsealed events, current-state
// digests); and a broken worker fails the run instead of passing it.
import { LocalVerifier, ThreadVerifier, VerifierRun } from '../../../audit/verifyThread';
import { synthAnchor, synthEvent, synthLog, T0, dbTime } from '../../../audit/bench/verifySynth';
import { imageDigest } from '../../../audit/verifyState';
import { eventLeafHash } from '../../../audit/format';
import { leafRow } from './support/wireRow';
import type { StoredCheckpoint, StoredEvent } from '../../../audit/verify';
import type { VerifyStreamReport } from '../../../audit/verifyStream';

const NOW = T0 + 100_000_000;
const N = 30_000; // several batches

interface Case {
  leaves?: (l: { seq: bigint; event: StoredEvent | null }[]) => { seq: bigint; event: StoredEvent | null }[];
  cps?: (c: StoredCheckpoint[]) => StoredCheckpoint[];
  rows?: (r: [string, Buffer][]) => [string, Buffer][];
}

async function run(v: VerifierRun, c: Case, asWire: boolean): Promise<VerifyStreamReport> {
  const log = synthLog(N, 500, T0);
  let leaves = [...log.leaves()] as { seq: bigint; event: StoredEvent | null }[];
  if (c.leaves) leaves = c.leaves(leaves);
  let cps = [...log.checkpoints()];
  if (c.cps) cps = c.cps(cps);
  let rows: [string, Buffer][] = [];
  for (let i = 4; i <= N; i += 4) rows.push(['accounts', imageDigest(synthEvent(i).afterImage as Buffer)]);
  rows.push(['accounts', imageDigest(synthEvent(N + 1).afterImage as Buffer)]); // the unsealed INSERT below
  if (c.rows) rows = c.rows(rows);
  try {
    let k = 0;
    for (const { seq, event } of leaves) {
      while (k < cps.length && (cps[k] as StoredCheckpoint).treeSize <= seq) v.checkpoint(cps[k++] as StoredCheckpoint);
      if (asWire) {
        // A row inside a larger buffer, as the driver's packets are.
        const row = Buffer.concat([Buffer.from([0xee, 0xee]), leafRow(seq, event), Buffer.from([0xee])]);
        v.wireLeaf(row, 2, row.length - 1);
      } else v.leaf(seq, event);
      if (v.saturated() || seq % 1000n === 0n) await v.ready();
    }
    while (k < cps.length) v.checkpoint(cps[k++] as StoredCheckpoint);
    const late = synthEvent(N + 1);
    v.unsealedEvent(late, true);
    for (const [t, d] of rows) v.stateRow(t, d);
    return await v.finish({ maxUnsealedAgeS: 10, dbNow: dbTime(T0 + (N + 1) * 10 + 1000), state: { complete: true } });
  } finally {
    v.close();
  }
}

const opts = () => {
  const log = synthLog(N, 500, T0);
  return { anchors: [synthAnchor(log, 10_000, NOW - 60_000), synthAnchor(log, N, NOW - 1000)], nowMs: NOW, maxAnchorAgeS: 150, maxAnchorGapS: 90 };
};
const problems = [{ code: 'ANCHOR_FILE_MODIFIED' as const, message: 'an anchor problem found while loading', at: { anchor: 'x:1' } }];

const CASES: [string, Case][] = [
  ['clean', {}],
  ['content forged, a leaf missing, a checkpoint hash edited, a row changed', {
    leaves: (l) => l.filter((x) => x.seq !== 777n).map((x) => (x.seq === 123n && x.event ? { ...x, event: { ...x.event, actor: 'mallory' } } : x)),
    cps: (c) => c.map((x, i) => (i === 7 ? { ...x, checkpointHash: Buffer.alloc(32, 9) } : x)),
    rows: (r) => r.map((x, i) => (i === 5 ? ['accounts', Buffer.alloc(32, 1)] : x)),
  }],
  ['an event sequenced twice, a seq naming no event, a malformed image', {
    leaves: (l) => l.map((x) => {
      if (x.seq === 2000n) return { seq: x.seq, event: null };
      if (x.seq === 3001n && x.event) { const e = { ...x.event, afterImage: Buffer.from([1, 0]) }; return { seq: x.seq, event: { ...e, leafHash: eventLeafHash(e) } }; }
      if (x.seq === 4001n) return { seq: x.seq, event: l[3999]?.event ?? null };
      return x;
    }),
  }],
];

describe('verifier thread', () => {
  test.each(CASES)('%s: the thread reports what the in-thread core reports', async (_name, c) => {
    const local = await run(new LocalVerifier(opts(), problems), c, false);
    const thread = await run(new ThreadVerifier(opts(), problems), c, true);
    expect(thread).toEqual(local);
    expect(local.findings.map((f) => f.code)).toContain('ANCHOR_FILE_MODIFIED');
    if (_name === 'clean') expect(local.findings.map((f) => f.code)).toEqual(['ANCHOR_FILE_MODIFIED']);
    else expect(local.findingCount).toBeGreaterThan(2);
    expect(local.sealedEvents + local.unsealedEvents).toBeGreaterThan(N - 2);
  }, 60_000);

  test('a worker that cannot parse what it is sent fails the run', async () => {
    const v = new ThreadVerifier(opts());
    const sab = new SharedArrayBuffer(4);
    Buffer.from(sab).set([9, 0, 0, 0]);
    (v as unknown as { worker: { postMessage(m: unknown): void } }).worker.postMessage({ t: 'batch', sab, len: 4 });
    await expect(v.finish({ maxUnsealedAgeS: 10 })).rejects.toThrow(/verifier thread: .*unknown record kind 9/);
    v.close();
  });
});
