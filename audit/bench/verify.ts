// Benchmark of the streaming verifier core (`npx tsx audit/bench/verify.ts [N1 N2 [ANCHOR_EVERY]]`):
// synthetic events, sealed 10 per checkpoint, 16 anchors (or one every ANCHOR_EVERY leaves), fed through
// the same StreamVerifier the CLI uses. Reports events/s and the peak *retained* heap
// growth (sampled after a forced GC every 5,000 leaves) for two sizes, and their ratio:
// flat memory means the ratio stays near 1 while the event count grows 10x.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { AnchorPoint, StreamVerifier } from '../verifyStream';
import { synthEvent, synthMerged, T0, dbTime, INCARNATION } from './verifySynth';
import { Frontier } from '../merkle';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

export interface BenchResult {
  readonly n: number;
  readonly seconds: number;
  readonly generateSeconds: number;
  readonly eventsPerSecond: number;
  readonly peakRetainedGrowthBytes: number;
  readonly anchors: number;
}

/** Anchors every `every` leaves of the synthetic log (computed in one pass). */
function anchorsFor(n: number, every: number): AnchorPoint[] {
  const out: AnchorPoint[] = [];
  const f = new Frontier();
  const now = Date.now();
  const count = Math.floor(n / every);
  for (let i = 1; i <= n; i++) {
    f.append(synthEvent(i).leafHash);
    if (i % every === 0 || i === n) {
      const ms = now - (count - out.length) * 60_000 + 1;
      // The checkpoint hash is not known without the chain; the benchmark's anchors sit on
      // checkpoint sizes and carry the right root (checkpoint hash mismatches would only add findings).
      out.push({ treeSize: i, root: f.root(), checkpointHash: Buffer.alloc(32), emittedAt: new Date(ms).toISOString(), emittedMs: ms,
        serverUuid: INCARNATION.slice(0, 36), incarnation: INCARNATION, fingerprint: 'f'.repeat(64), source: 'bench', line: out.length + 1 });
    }
  }
  return out;
}

/** anchorEvery: leaves between anchors (default: 16 anchors whatever n, so only the event count varies). */
export function benchStream(n: number, sampleEvery = 5000, anchorEvery = Math.ceil(n / 160) * 10): BenchResult {
  const anchors = anchorsFor(n, anchorEvery);
  // Generation alone (to subtract it from the total).
  let t = process.hrtime.bigint();
  for (const x of synthMerged(n)) void x;
  const generateSeconds = Number(process.hrtime.bigint() - t) / 1e9;

  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  t = process.hrtime.bigint();
  const core = new StreamVerifier({ anchors, nowMs: Date.now(), maxAnchorAgeS: 1e9, maxAnchorGapS: 1e9, maxFindingsPerCode: 5 });
  for (const x of synthMerged(n)) {
    if ('cp' in x) core.checkpoint(x.cp);
    else {
      core.leaf(x.leaf.seq, x.leaf.event);
      if (Number(x.leaf.seq) % sampleEvery === 0) { gc(); peak = Math.max(peak, process.memoryUsage().heapUsed - base); }
    }
  }
  const report = core.finish({ maxUnsealedAgeS: 10, dbNow: dbTime(T0 + n * 10 + 1000) });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  gc();
  peak = Math.max(peak, process.memoryUsage().heapUsed - base);
  const unexpected = report.findings.filter((f) => f.code !== 'ANCHOR_CHECKPOINT_MISMATCH');
  if (unexpected.length) throw new Error(`benchmark log did not verify: ${JSON.stringify(unexpected.slice(0, 3))}`);
  const verifySeconds = Math.max(seconds - generateSeconds, 1e-9);
  return { n, seconds: verifySeconds, generateSeconds, eventsPerSecond: n / verifySeconds, peakRetainedGrowthBytes: peak, anchors: anchors.length };
}

if (require.main === module) {
  const [a = '10000', b = '100000'] = process.argv.slice(2);
  const every = process.argv[4] ? Number(process.argv[4]) : undefined;
  const r1 = benchStream(Number(a), 5000, every);
  const r2 = benchStream(Number(b), 5000, every);
  const mb = (x: number): string => `${(x / 1048576).toFixed(2)} MiB`;
  for (const r of [r1, r2]) {
    console.log(`${String(r.n).padStart(8)} events: ${Math.round(r.eventsPerSecond)} events/s (verify ${r.seconds.toFixed(2)} s, generate ${r.generateSeconds.toFixed(2)} s), ${r.anchors} anchors, peak retained heap growth ${mb(r.peakRetainedGrowthBytes)}`);
  }
  console.log(`ratio ${r2.n / r1.n}x events: throughput ${(r2.eventsPerSecond / r1.eventsPerSecond).toFixed(2)}x, peak retained heap ${(r2.peakRetainedGrowthBytes / Math.max(r1.peakRetainedGrowthBytes, 1)).toFixed(2)}x`);
}
