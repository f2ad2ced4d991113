// Reads anchors back from where the log sink put them: a directory (the lab's
// collector, or a local copy of the bucket) or a gs:// bucket. Objects are visited in
// name order (the sink's names sort by time) and yielded one entry at a time, so
// memory stays flat however many anchors there are.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ANCHOR_LOG_ID, anchorRecordProblem, AnchorRecord, LogEntry } from './anchorRecord';

export interface AnchorEntry {
  readonly record: AnchorRecord;
  readonly timestamp: string;
  /** Object or file it came from, and its line number there. */
  readonly source: string;
  readonly line: number;
}

export interface MalformedAnchor {
  readonly source: string;
  readonly line: number;
  readonly problem: string;
}

export type AnchorItem = { kind: 'anchor'; entry: AnchorEntry } | { kind: 'malformed'; malformed: MalformedAnchor };

async function* linesOf(stream: Readable, source: string): AsyncGenerator<AnchorItem> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    if (!text.trim()) continue;
    let entry: LogEntry;
    try {
      entry = JSON.parse(text);
    } catch {
      yield { kind: 'malformed', malformed: { source, line: n, problem: 'not JSON' } };
      continue;
    }
    const problem = anchorRecordProblem(entry?.jsonPayload);
    if (problem || !String(entry.logName ?? '').endsWith(`/logs/${ANCHOR_LOG_ID}`)) {
      yield { kind: 'malformed', malformed: { source, line: n, problem: problem ?? `logName ${entry.logName}` } };
      continue;
    }
    yield { kind: 'anchor', entry: { record: entry.jsonPayload, timestamp: entry.timestamp, source, line: n } };
  }
}

/** Sink object order: by path, with the shard number compared as a number (S2 < S10). */
export function byObjectName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Files (or objects) of the source, in name order, for listing and for the file-level checks. */
export async function listAnchorObjects(source: string): Promise<string[]> {
  if (source.startsWith('file://')) {
    const dir = source.slice('file://'.length);
    statSync(dir);
    return walk(dir).sort(byObjectName);
  }
  if (source.startsWith('gs://')) {
    const { bucket, prefix } = parseGs(source);
    const { Storage } = await import('@google-cloud/storage');
    const [files] = await new Storage().bucket(bucket).getFiles({ prefix: `${prefix}${ANCHOR_LOG_ID}/` });
    return files.map((f) => `gs://${bucket}/${f.name}`).sort(byObjectName);
  }
  throw new Error(`anchor source ${JSON.stringify(source)} must be file:///DIR or gs://BUCKET[/PREFIX]`);
}

export async function* readAnchors(source: string): AsyncGenerator<AnchorItem> {
  for (const object of await listAnchorObjects(source)) {
    if (object.startsWith('gs://')) {
      const { bucket, prefix } = parseGs(object);
      const { Storage } = await import('@google-cloud/storage');
      yield* linesOf(new Storage().bucket(bucket).file(prefix).createReadStream(), object);
    } else {
      yield* linesOf(createReadStream(object), object);
    }
  }
}

function parseGs(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([a-z0-9._-]{3,222})\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`bad gs:// address ${JSON.stringify(uri)}`);
  const prefix = m[2] && !m[2].endsWith('/') && !m[2].endsWith('.json') ? `${m[2]}/` : m[2];
  return { bucket: m[1], prefix };
}
