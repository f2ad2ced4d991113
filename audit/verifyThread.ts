// The streaming verifier run in a worker thread. The database driver's thread only
// reads rows and packs them (leaves straight from the server's row bytes, checkpoints,
// unsealed events, current-state digests) into shared-memory batches; the worker runs the whole StreamVerifier
// (tree, checkpoints, anchors, proofs, leaf hashes, images, state replay) on them, in
// the order they were read. Reading and parsing rows is most of one core, checking
// them most of the other, so the two overlap instead of adding up.
//
// Record layout (one kind byte first; event records as audit/eventChecks.ts packs them):
//   LEAF       u64 seq || event record          NULL_LEAF  u64 seq
//   UNSEALED   u8 queued || event record        STATE_ROW  u8 len || table || digest(32)
//   CHECKPOINT u64 size || u8+root || u8+prev || u8+hash || u16+sealed_at || u16+incarnation || u32+frontier
import { Worker } from 'node:worker_threads';
import { BatchWriter, PackedEvent, RecordKind } from './eventChecks';
import type { FindingCode } from './findings';
import type { StoredCheckpoint, StoredEvent } from './verify';
import { AnchorPoint, FinishInput, StreamOptions, StreamVerifier, VerifyStreamReport } from './verifyStream';
import { WireLeafPacker } from './wireRows';

/** What the database driver feeds, wherever the verifier runs. */
export interface VerifierRun {
  checkpoint(cp: StoredCheckpoint): void;
  leaf(seq: bigint, ev: StoredEvent | null): void;
  /**
   * A sequenced leaf as a row of the leaf query arrived from the server (row[start, end)
   * is copied before this returns); returns the row's event_id, null when it names none.
   */
  wireLeaf(row: Buffer, start: number, end: number): bigint | null;
  unsealedEvent(ev: StoredEvent, queued: boolean): void;
  stateRow(table: string, digest: Buffer): void;
  /** True while enough is queued that the caller should wait for ready() before feeding more. */
  saturated(): boolean;
  /** Resolves when more may be fed (bounded memory). */
  ready(): Promise<void>;
  finish(input: FinishInput): Promise<VerifyStreamReport>;
  close(): void;
}

export type CoreOptions = StreamOptions;
export interface Problem { readonly code: FindingCode; readonly message: string; readonly at?: Record<string, string | number> }

/** In this thread (tests, and `checkThread: false`). */
export class LocalVerifier implements VerifierRun {
  private readonly core: StreamVerifier;
  private readonly wire = new WireLeafPacker();
  private readonly scratch = new BatchWriter(1 << 14);

  constructor(opts: CoreOptions, problems: readonly Problem[] = []) {
    this.core = new StreamVerifier(opts);
    for (const p of problems) this.core.findings.add(p.code, p.message, p.at);
  }

  checkpoint(cp: StoredCheckpoint): void { this.core.checkpoint(cp); }
  leaf(seq: bigint, ev: StoredEvent | null): void { this.core.leaf(seq, ev); }
  wireLeaf(row: Buffer, start: number, end: number): bigint | null {
    this.scratch.reset();
    const id = this.wire.pack(this.scratch, row, start, end);
    replayBatch(this.core, this.scratch.buf.subarray(0, this.scratch.off));
    return id;
  }
  unsealedEvent(ev: StoredEvent, queued: boolean): void { this.core.unsealedEvent(ev, queued); }
  stateRow(table: string, digest: Buffer): void { this.core.stateRow(table, digest); }
  saturated(): boolean { return false; }
  ready(): Promise<void> { return Promise.resolve(); }
  finish(input: FinishInput): Promise<VerifyStreamReport> { return Promise.resolve(this.core.finish(input)); }
  close(): void {}
}

const RECORDS_PER_BATCH = 8192;
const MAX_IN_FLIGHT = 4;

type ToWorker = { t: 'batch'; sab: SharedArrayBuffer; len: number } | { t: 'finish'; input: FinishInput };
type FromWorker = { t: 'ack'; sab: SharedArrayBuffer } | { t: 'report'; report: VerifyStreamReport } | { t: 'error'; message: string };

// TypeScript in the worker through tsx's register API, under jest and tsx alike.
const WORKER_SOURCE = `
require('tsx/cjs/api').register();
require(require('node:worker_threads').workerData.module).serveVerifier();
`;

/** In a worker thread; batches in shared memory, at most MAX_IN_FLIGHT waiting there. */
export class ThreadVerifier implements VerifierRun {
  private readonly worker: Worker;
  // Batches travel as shared memory plus a length (no copy, no detach); the worker's
  // ack hands each back for reuse, so a long stream allocates a handful.
  private readonly pool: SharedArrayBuffer[] = [];
  private readonly alloc = (n: number): SharedArrayBuffer => {
    const i = this.pool.findIndex((b) => b.byteLength >= n);
    return i >= 0 ? (this.pool.splice(i, 1)[0] as SharedArrayBuffer) : new SharedArrayBuffer(n);
  };
  private readonly writer = new BatchWriter(1 << 22, this.alloc);
  private readonly wire = new WireLeafPacker();
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private failure?: Error;
  private done = false;
  private onReport?: (r?: VerifyStreamReport) => void;

  constructor(opts: CoreOptions, problems: readonly Problem[] = []) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: __filename, opts, problems } });
    this.worker.on('message', (m: FromWorker) => {
      if (m.t === 'ack') {
        this.inFlight--;
        if (this.pool.length < 2 * MAX_IN_FLIGHT) this.pool.push(m.sab);
        this.wake();
      } else if (m.t === 'report') {
        this.done = true;
        this.onReport?.(m.report);
      } else this.fail(new Error(`verifier thread: ${m.message}`));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => { if (!this.done) this.fail(new Error(`verifier thread exited (${code})`)); });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
    this.onReport?.();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private post(m: ToWorker): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(m);
  }

  private flush(): void {
    if (!this.writer.count) return;
    const b = this.writer.take();
    this.inFlight++;
    this.post({ t: 'batch', sab: b.buffer as SharedArrayBuffer, len: b.length });
  }

  private counted(): void {
    if (this.writer.count >= RECORDS_PER_BATCH) this.flush();
  }

  checkpoint(cp: StoredCheckpoint): void { this.writer.checkpoint(cp); this.counted(); }
  leaf(seq: bigint, ev: StoredEvent | null): void { this.writer.leaf(seq, ev); this.counted(); }
  wireLeaf(row: Buffer, start: number, end: number): bigint | null {
    const id = this.wire.pack(this.writer, row, start, end);
    this.counted();
    return id;
  }
  unsealedEvent(ev: StoredEvent, queued: boolean): void { this.writer.unsealed(ev, queued); this.counted(); }
  stateRow(table: string, digest: Buffer): void { this.writer.stateRowRecord(table, digest); this.counted(); }
  saturated(): boolean { return this.inFlight >= MAX_IN_FLIGHT || this.failure !== undefined; }

  async ready(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  async finish(input: FinishInput): Promise<VerifyStreamReport> {
    this.flush();
    const report = await new Promise<VerifyStreamReport | undefined>((resolve) => {
      this.onReport = resolve;
      this.post({ t: 'finish', input });
    });
    if (this.failure || !report) throw this.failure ?? new Error('verifier thread gave no report');
    return report;
  }

  close(): void {
    this.done = true;
    void this.worker.terminate();
  }
}

// ------------------------------------------------------------------ worker side

// Local copies: every access to an import is a getter call under the CommonJS interop.
const { LEAF, NULL_LEAF, CHECKPOINT, UNSEALED, STATE_ROW } = RecordKind;

/** Buffers crossed the thread boundary as plain Uint8Arrays. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const reviveAnchor = (a: AnchorPoint): AnchorPoint => ({ ...a, root: asBuffer(a.root), checkpointHash: asBuffer(a.checkpointHash) });

/** The event record at b[off, end) as the core sees it (id, time, stored leaf), checked in place. */
function packedEvent(b: Buffer, view: DataView, off: number, end: number): PackedEvent {
  const leafLen = b[off + 12] as number;
  const input = off + 13 + leafLen;
  let p = input + 6;
  for (let i = 0; i < 5; i++) p += 5 + b.readUInt32BE(p + 1);
  return {
    packed: true,
    eventId: view.getBigUint64(off + 4),
    eventTime: b.toString('latin1', p + 5, p + 5 + b.readUInt32BE(p + 1)),
    // Copied: the tree keeps leaves (frontier, proof ranges) after this batch is reused.
    leafHash: Buffer.from(b.subarray(off + 13, input)),
    batch: b, off, end,
  };
}

/** Feeds one batch of records to the core, in order. */
export function replayBatch(core: StreamVerifier, b: Buffer): void {
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  let off = 0;
  const take = (width: 1 | 2 | 4): Buffer => {
    const len = b.readUIntBE(off, width);
    const out = Buffer.from(b.subarray(off + width, off + width + len));
    off += width + len;
    return out;
  };
  while (off < b.length) {
    const kind = b[off];
    if (kind === LEAF || kind === UNSEALED) {
      const at = off + (kind === LEAF ? 9 : 2);
      const end = at + b.readUInt32BE(at);
      const ev = packedEvent(b, view, at, end);
      if (kind === LEAF) core.leaf(view.getBigUint64(off + 1), ev);
      else core.unsealedEvent(ev, b[off + 1] === 1);
      off = end;
    } else if (kind === NULL_LEAF) {
      core.leaf(view.getBigUint64(off + 1), null);
      off += 9;
    } else if (kind === STATE_ROW) {
      const len = b[off + 1] as number;
      core.stateRow(b.toString('utf8', off + 2, off + 2 + len), b.subarray(off + 2 + len, off + 34 + len));
      off += 34 + len;
    } else if (kind === CHECKPOINT) {
      const treeSize = view.getBigUint64(off + 1);
      off += 9;
      const root = take(1);
      const prevCheckpointHash = take(1);
      const checkpointHash = take(1);
      const sealedAt = take(2).toString('utf8');
      const incarnation = take(2).toString('utf8');
      const frontier = take(4);
      core.checkpoint({ treeSize, root, prevCheckpointHash, checkpointHash, sealedAt, incarnation, frontier });
    } else {
      throw new Error(`unknown record kind ${kind} at offset ${off}`);
    }
  }
}

/** The worker's entry point (WORKER_SOURCE calls it). */
export function serveVerifier(): void {
  // Required here, not imported: only the worker needs its port.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const port = parentPort;
  if (!port) throw new Error('serveVerifier runs in a worker thread');
  const data = workerData as { opts: CoreOptions; problems: Problem[] };
  const core = new StreamVerifier({ ...data.opts, anchors: data.opts.anchors.map(reviveAnchor) });
  for (const p of data.problems) core.findings.add(p.code, p.message, p.at);
  port.on('message', (m: ToWorker) => {
    try {
      if (m.t === 'batch') {
        replayBatch(core, Buffer.from(m.sab, 0, m.len));
        port.postMessage({ t: 'ack', sab: m.sab } satisfies FromWorker);
      } else {
        port.postMessage({ t: 'report', report: core.finish(m.input) } satisfies FromWorker);
      }
    } catch (e) {
      port.postMessage({ t: 'error', message: String((e as Error)?.stack ?? e) } satisfies FromWorker);
    }
  });
}
