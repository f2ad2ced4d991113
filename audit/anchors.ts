// Anchors for the verifier: every anchor of the source, compact and in emission order,
// plus the object-level checks a directory source allows (a GCS bucket is protected by
// its retention lock instead): shards numbered S0..Sk per hour with none missing,
// closed shards read-only, and no shard modified after its last line was received.
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { listAnchorObjects, readAnchors } from './anchorSource';
import type { AnchorPoint } from './verifyStream';
import type { FindingCode } from './findings';

export interface AnchorProblem {
  readonly code: Extract<FindingCode, 'ANCHOR_MALFORMED' | 'ANCHOR_FILE_MISSING' | 'ANCHOR_FILE_MODIFIED' | 'ANCHOR_FILE_WRITABLE'>;
  readonly message: string;
  readonly at?: Record<string, string | number>;
}

export interface LoadedAnchors {
  readonly anchors: AnchorPoint[];
  readonly problems: AnchorProblem[];
  readonly objects: number;
}

/** A shard may be written this long after its newest line was received (clock and I/O slack). */
export const MODIFIED_SLACK_S = 5;

export async function loadAnchors(source: string, opts: { fileChecks?: boolean } = {}): Promise<LoadedAnchors> {
  const anchors: AnchorPoint[] = [];
  const problems: AnchorProblem[] = [];
  for await (const item of readAnchors(source)) {
    if (item.kind === 'malformed') {
      problems.push({ code: 'ANCHOR_MALFORMED', message: `${item.malformed.source}:${item.malformed.line}: ${item.malformed.problem}`, at: { anchor: `${item.malformed.source}:${item.malformed.line}` } });
      continue;
    }
    const { record: r, source: src, line } = item.entry;
    anchors.push({
      treeSize: r.tree_size,
      root: Buffer.from(r.root, 'hex'),
      checkpointHash: Buffer.from(r.checkpoint_hash, 'hex'),
      emittedAt: r.emitted_at,
      emittedMs: Date.parse(r.emitted_at),
      serverUuid: r.server_uuid,
      incarnation: String(r.incarnation ?? ''),
      fingerprint: r.schema_fingerprint,
      anchorSeq: r.anchor_seq,
      hostname: r.hostname,
      source: src,
      line,
    });
  }
  anchors.sort((a, b) => a.emittedMs - b.emittedMs || a.source.localeCompare(b.source) || a.line - b.line);
  const objects = await listAnchorObjects(source);
  if (opts.fileChecks !== false && source.startsWith('file://')) problems.push(...fileProblems(objects));
  return { anchors, problems, objects: objects.length };
}

const SHARD = /^(\d\d):00:00_\1:59:59_S(\d+)\.json$/;

/** Object-level checks of a directory source (the collector's files). */
export function fileProblems(files: readonly string[]): AnchorProblem[] {
  const out: AnchorProblem[] = [];
  const byHour = new Map<string, Map<number, string>>();
  // The open shard is the last one by hour and shard number (names sort S10 before S2).
  const order = (f: string): string => { const m = SHARD.exec(basename(f)); return m ? `${dirname(f)}/${m[1]}/${(m[2] as string).padStart(8, '0')}` : f; };
  let newest: { file: string; key: string } | undefined;
  for (const f of files) {
    const m = SHARD.exec(basename(f));
    if (!m) continue;
    const key = `${dirname(f)}/${m[1]}`;
    const shards = byHour.get(key) ?? new Map<number, string>();
    shards.set(Number(m[2]), f);
    byHour.set(key, shards);
    if (!newest || order(f) > newest.key) newest = { file: f, key: order(f) };
  }
  for (const [hour, shards] of byHour) {
    const max = Math.max(...shards.keys());
    for (let n = 0; n <= max; n++) {
      if (!shards.has(n)) out.push({ code: 'ANCHOR_FILE_MISSING', message: `anchor object ${hour}:00:00_…_S${n}.json is missing (S0..S${max} were written): it was removed`, at: { anchor: `${hour}_S${n}` } });
    }
  }
  for (const f of files) {
    const st = statSync(f);
    if (f !== newest?.file && (st.mode & 0o222) !== 0) out.push({ code: 'ANCHOR_FILE_WRITABLE', message: `${f} is closed but writable (mode ${(st.mode & 0o777).toString(8)})`, at: { anchor: f } });
    const last = lastReceived(f);
    if (last !== undefined && st.mtimeMs > last + MODIFIED_SLACK_S * 1000) {
      out.push({ code: 'ANCHOR_FILE_MODIFIED', message: `${f} was modified at ${new Date(st.mtimeMs).toISOString()}, ${((st.mtimeMs - last) / 1000).toFixed(0)} s after its last line was received`, at: { anchor: f } });
    }
  }
  return out;
}

/** receiveTimestamp (ms) of the newest line of a shard, if readable. */
function lastReceived(file: string): number | undefined {
  let latest: number | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const t = Date.parse((JSON.parse(line) as { receiveTimestamp?: string }).receiveTimestamp ?? '');
      if (!Number.isNaN(t) && (latest === undefined || t > latest)) latest = t;
    } catch { /* malformed lines are reported by the reader */ }
  }
  return latest;
}
