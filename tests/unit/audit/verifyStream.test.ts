// The streaming verifier core on synthetic logs: a clean log with anchors verifies;
// each kind of tampering is classified as its finding kind; consistency and
// inclusion ranges equal RFC 6962's proofs for every (m, n) up to 40; state replay
// catches an unaudited change.
import { consistencyProof, inclusionProof, rootFromLeafHashes, Frontier, leafHash } from '../../../audit/merkle';
import { consistencyRanges, inclusionRanges, frontierRanges, RangeHasher } from '../../../audit/inclusion';
import { feedSync, StreamVerifier, VerifyStreamReport, AnchorPoint } from '../../../audit/verifyStream';
import { synthAnchor, synthEvent, synthLog, T0, dbTime } from '../../../audit/bench/verifySynth';
import { imageDigest } from '../../../audit/verifyState';
import { checkpointHash, eventLeafHash } from '../../../audit/format';
import type { StoredCheckpoint, StoredEvent } from '../../../audit/verify';

const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => leafHash(Buffer.from([i, i >> 8])));
const NOW = T0 + 100_000;

function run(n: number, opts: {
  anchors?: (log: ReturnType<typeof synthLog>) => AnchorPoint[];
  leaves?: (l: { seq: bigint; event: StoredEvent | null }[]) => { seq: bigint; event: StoredEvent | null }[];
  cps?: (c: StoredCheckpoint[]) => StoredCheckpoint[];
  unsealed?: { event: StoredEvent; queued: boolean }[];
  dbNow?: string;
  /** Current rows as (table, digest); omitted: state not run. */
  state?: [string, Buffer][];
  nowMs?: number;
  /** The current machinery fingerprint; omitted: the check is not run. */
  fingerprint?: string;
} = {}): VerifyStreamReport {
  const log = synthLog(n, 10);
  const anchors = opts.anchors ? opts.anchors(log) : [synthAnchor(log, 0, NOW - 60_000), synthAnchor(log, n, NOW - 1000)];
  const core = new StreamVerifier({ anchors, nowMs: opts.nowMs ?? NOW, maxAnchorAgeS: 150, maxAnchorGapS: 90 });
  let ls = [...log.leaves()] as { seq: bigint; event: StoredEvent | null }[];
  if (opts.leaves) ls = opts.leaves(ls);
  let cs = [...log.checkpoints()];
  if (opts.cps) cs = opts.cps(cs);
  feedSync(core, ls, cs);
  for (const u of opts.unsealed ?? []) core.unsealedEvent(u.event, u.queued);
  for (const [table, digest] of opts.state ?? []) core.stateRow(table, digest);
  return core.finish({
    maxUnsealedAgeS: 10, dbNow: opts.dbNow ?? dbTime(T0 + n * 10 + 1000), state: opts.state ? { complete: true } : undefined,
    ...(opts.fingerprint ? { fingerprint: { value: opts.fingerprint } } : {}),
  });
}

/** The fingerprint synthAnchor() records. */
const FP = 'f'.repeat(64);
const codes = (r: VerifyStreamReport): string[] => [...new Set(r.findings.map((f) => f.code))].sort();

describe('proof ranges', () => {
  test('consistency and inclusion ranges hash to the RFC 6962 proofs for every m, n <= 40', () => {
    const L = leaves(40);
    for (let n = 1; n <= 40; n++) {
      for (let m = 0; m <= n; m++) {
        const want = consistencyProof(m, L.slice(0, n));
        expect(consistencyRanges(m, n).map(([a, b]) => rootFromLeafHashes(L.slice(a, b)))).toEqual(want);
      }
      for (let m = 0; m < n; m++) {
        expect(inclusionRanges(m, n).map(([a, b]) => rootFromLeafHashes(L.slice(a, b)))).toEqual(inclusionProof(m, L.slice(0, n)));
      }
    }
  });

  test('frontier ranges are the frontier nodes, and a RangeHasher builds the proof from a stream', () => {
    const L = leaves(37);
    for (let m = 1; m <= 36; m++) {
      const f = new Frontier();
      L.slice(0, m).forEach((l) => f.append(l));
      expect(frontierRanges(m).map(([a, b]) => rootFromLeafHashes(L.slice(a, b)))).toEqual(f.nodes);
      const h = new RangeHasher(consistencyRanges(m, 37));
      h.fromFrontier(f);
      L.forEach((l, i) => { if (i >= m) h.push(i, l); });
      expect(h.proof()).toEqual(consistencyProof(m, L));
    }
  });
});

describe('streaming verifier', () => {
  test('a clean log with anchors: no finding, every anchor matched, consistency proofs checked', () => {
    const r = run(95, { anchors: (log) => [0, 30, 60, 90, 95].map((s, i) => synthAnchor(log, s, NOW - 300_000 + i * 60_000)) });
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ ok: true, treeSize: 95, sealedEvents: 95, checkpoints: 11, anchors: { count: 5, matched: 5, consistencyProofs: 3 } });
  });

  test('a hole in the per-host anchor counter is a removed anchor (anchor-file), wherever anchors are stored', () => {
    const seqs = [1, 2, 3, 5, 6];
    const anchors = (log: Parameters<typeof synthAnchor>[0]) => [0, 30, 60, 90, 95].map((s, i) =>
      synthAnchor(log, s, NOW - 300_000 + i * 60_000, { anchorSeq: seqs[i], hostname: 'db1' }));
    const r = run(95, { anchors });
    expect(codes(r)).toEqual(['ANCHOR_SEQ_GAP']);
    expect(r.findings[0].message).toMatch(/anchor_seq 3 -> 5 .*1 anchor\(s\) missing/);
    const clean = run(95, { anchors: (log) => [0, 30, 60, 90, 95].map((s, i) => synthAnchor(log, s, NOW - 300_000 + i * 60_000, { anchorSeq: i + 1, hostname: 'db1' })) });
    expect(clean.findings).toEqual([]);
  });

  test('event content changed (leaf kept): forged-event, the tree still matches', () => {
    const r = run(50, { leaves: (l) => l.map((x) => (x.seq === 17n && x.event ? { ...x, event: { ...x.event, actor: 'mallory@x' } } : x)) });
    expect(r.kinds).toEqual(['forged-event']);
    expect(codes(r)).toEqual(['LEAF_MISMATCH']);
  });

  test('event deleted from the middle (event and seq): missing-event, and the tree no longer matches', () => {
    const r = run(50, { leaves: (l) => l.filter((x) => x.seq !== 23n) });
    expect(r.kinds).toContain('missing-event');
    expect(codes(r)).toContain('SEQ_GAP');
    const r2 = run(50, { leaves: (l) => l.map((x) => (x.seq === 23n ? { ...x, event: null } : x)) });
    expect(codes(r2)).toContain('SEQ_ORPHAN');
  });

  test('tail truncated: truncation (checkpoints and anchors beyond the leaves)', () => {
    const r = run(50, { leaves: (l) => l.slice(0, 41) });
    expect(r.kinds).toContain('truncation');
    expect(codes(r)).toEqual(expect.arrayContaining(['CHECKPOINT_BEYOND_SEQ', 'ANCHOR_BEYOND_DB']));
    const r2 = run(50, { leaves: (l) => l.slice(0, 40), cps: (c) => c.filter((x) => x.treeSize <= 40n) });
    expect(r2.kinds).toEqual(['truncation']);
  });

  test('log and checkpoints rewritten consistently after an anchor: only the anchors tell (rewrite)', () => {
    // Rebuild the whole log from a changed event 5: internally consistent.
    const forged = synthLog(50, 10, T0, (e) => (e.eventId === 5n ? withActor(e, 'mallory@x') : e));
    const core = new StreamVerifier({ anchors: [synthAnchor(synthLog(50), 40, NOW - 5000)], nowMs: NOW, maxAnchorAgeS: 150, maxAnchorGapS: 90 });
    const cps = rebuildCheckpoints([...forged.leaves()].map((l) => l.event), 10);
    feedSync(core, forged.leaves(), cps);
    const r = core.finish({ maxUnsealedAgeS: 10, dbNow: dbTime(T0 + 2000) });
    expect(r.kinds).toEqual(['rewrite']);
    expect(codes(r)).toEqual(expect.arrayContaining(['ANCHOR_ROOT_MISMATCH', 'ANCHOR_CHECKPOINT_MISMATCH']));
  });

  test('consistency proof between anchors fails when history changed between them', () => {
    const honest = synthLog(50);
    const other = synthLog(50, 10, T0 + 1); // different events: a different tree
    const a1 = { ...synthAnchor(other, 20, NOW - 70_000) };
    const r = run(50, { anchors: () => [a1, synthAnchor(honest, 50, NOW - 10_000)] });
    expect(codes(r)).toEqual(expect.arrayContaining(['ANCHOR_INCONSISTENT', 'ANCHOR_ROOT_MISMATCH']));
    expect(r.kinds).toEqual(['rewrite']);
  });

  test('two events swapped: reorder', () => {
    const r = run(50, { leaves: (l) => { const c = [...l]; [c[12], c[13]] = [c[13]!, c[12]!]; return c.map((x, i) => ({ ...x, seq: BigInt(i + 1) })); } });
    expect(r.kinds).toContain('reorder');
    expect(codes(r)).toContain('BATCH_ORDER');
    // Across batches: a later event moved into an older checkpoint.
    const r2 = run(50, { leaves: (l) => { const c = [...l]; [c[8], c[14]] = [c[14]!, c[8]!]; return c.map((x, i) => ({ ...x, seq: BigInt(i + 1) })); } });
    expect(codes(r2)).toContain('EVENT_AFTER_SEAL');
  });

  test('events inserted without the sealer: forged-event (unqueued; sequenced beyond the last checkpoint)', () => {
    const r = run(30, { unsealed: [{ event: synthEvent(31), queued: false }] });
    expect(codes(r)).toEqual(['UNQUEUED_EVENT']);
    const r2 = run(30, { leaves: (l) => [...l, { seq: 31n, event: synthEvent(31) }] });
    expect(codes(r2)).toEqual(['SEQ_BEYOND_CHECKPOINT']);
    expect(r2.kinds).toEqual(['forged-event']);
  });

  test('unsealed events older than the bound: unsealed-age; a fresh one is fine', () => {
    const old = synthEvent(31);
    expect(codes(run(30, { unsealed: [{ event: old, queued: true }], dbNow: dbTime(T0 + 310 + 11_000) }))).toEqual(['UNSEALED_AGE']);
    expect(run(30, { unsealed: [{ event: old, queued: true }], dbNow: dbTime(T0 + 310 + 2000) }).findings).toEqual([]);
  });

  test('anchors: cadence gap, stale latest, fingerprint and identity changes, shrink and fork', () => {
    const gap = run(30, { anchors: (log) => [synthAnchor(log, 10, NOW - 200_000), synthAnchor(log, 30, NOW - 60_000)] });
    expect(codes(gap)).toEqual(['ANCHOR_GAP']);
    expect(gap.kinds).toEqual(['anchor-cadence']);
    const stale = run(30, { anchors: (log) => [synthAnchor(log, 30, NOW - 200_000)] });
    expect(stale.kinds).toEqual(['anchor-stale']);
    expect(run(30, { anchors: () => [] }).kinds).toEqual(['anchor-stale']);
    const fp = run(30, { anchors: (log) => [synthAnchor(log, 10, NOW - 60_000), synthAnchor(log, 30, NOW - 1000, { fingerprint: 'e'.repeat(64) })] });
    expect(fp.kinds).toEqual(['schema-change']);
    const id = run(30, { anchors: (log) => [synthAnchor(log, 10, NOW - 60_000), synthAnchor(log, 30, NOW - 1000, { serverUuid: '99999999-2222-3333-4444-555555555555' })] });
    expect(id.kinds).toEqual(['server-identity']);
    const shrink = run(30, { anchors: (log) => [synthAnchor(log, 30, NOW - 60_000), synthAnchor(log, 20, NOW - 1000)] });
    expect(codes(shrink)).toEqual(['ANCHOR_SHRANK']);
    const fork = run(30, { anchors: (log) => [synthAnchor(log, 30, NOW - 60_000), synthAnchor(log, 30, NOW - 1000, { root: Buffer.alloc(32, 1) })] });
    expect(fork.kinds).toEqual(expect.arrayContaining(['fork', 'rewrite']));
  });

  test('the fingerprint coverage line says whether an anchor was there to compare with', () => {
    const anchored = run(30, { fingerprint: FP });
    expect(anchored.findings).toEqual([]);
    expect(anchored.coverage.fingerprint).toBe('current fingerprint compared with the latest anchor');
    const drift = run(30, { fingerprint: 'e'.repeat(64) });
    expect(codes(drift)).toEqual(['FINGERPRINT_DRIFT']);
    const bare = run(30, { anchors: () => [], fingerprint: FP });
    expect(bare.coverage.fingerprint).toBe('current fingerprint read; no anchor to compare it with');
    expect(bare.kinds).toEqual(['anchor-stale']);
    expect(run(30).coverage.fingerprint).toBe('not run: unavailable');
  });

  test('state reconciliation: the replayed state equals the actual one; an unaudited change is a state-mismatch', () => {
    // Actual state of the synthetic log: one row per 4 events, with its last after-image.
    const actual = (n: number, tamper = false): [string, Buffer][] => {
      const rows: [string, Buffer][] = [];
      for (let i = 1; i <= n; i++) {
        const last = i % 4 === 0 || i === n;
        if (last) rows.push(['accounts', imageDigest(synthEvent(tamper && i === 8 ? 7 : i).afterImage as Buffer)]);
      }
      return rows;
    };
    expect(run(30, { state: actual(30) }).findings).toEqual([]);
    const r = run(30, { state: actual(30, true) });
    expect(codes(r)).toEqual(['STATE_MISMATCH']);
    expect(r.kinds).toEqual(['state-mismatch']);
    // A row missing, a row duplicated, and a row of an unprotected table.
    expect(codes(run(30, { state: actual(30).slice(1) }))).toEqual(['STATE_MISMATCH']);
    expect(codes(run(30, { state: [...actual(30), actual(30)[0] as [string, Buffer]] }))).toEqual(['STATE_MISMATCH']);
    const stray = run(30, { state: [...actual(30), ['audit_events', Buffer.alloc(32)]] });
    expect(stray.findings.map((f) => f.message).join()).toMatch(/not a protected table/);
    // Without the state source the report says so instead of passing it.
    expect(run(30).coverage.state).toMatch(/^not run/);
  });
});

function withActor(e: StoredEvent, actor: string): StoredEvent {
  const x = { ...e, actor };
  return { ...x, leafHash: eventLeafHash(x) };
}

function rebuildCheckpoints(events: StoredEvent[], batch: number): StoredCheckpoint[] {
  const out: StoredCheckpoint[] = [];
  const f = new Frontier();
  let prev: Buffer = Buffer.alloc(32);
  const sizes = [0];
  for (let k = batch; k <= events.length; k += batch) sizes.push(k);
  for (const s of sizes) {
    while (f.size < s) f.append((events[f.size] as StoredEvent).leafHash);
    const base = { treeSize: BigInt(s), root: f.root(), prevCheckpointHash: prev, sealedAt: dbTime(T0 + s * 10 + 5), incarnation: 'x' };
    const h = checkpointHash(base);
    out.push({ ...base, checkpointHash: h, frontier: f.toBlob() });
    prev = h;
  }
  return out;
}
