// Where the stream verifier sends each event for the order-free checks
// (audit/eventChecks.ts): inline in this thread, or to a worker thread so the hashing
// runs on the other core while this one reads and parses the next rows. Both pack
// the same batches and run the same EventChecks code.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BatchWriter, CheckedEvent, EventCheckResult, EventChecks } from './eventChecks';

export interface EventCheckSink {
  event(ev: CheckedEvent): void;
  stateRow(table: string, digest: Buffer): void;
  /** Resolves when the sink can take more (bounded memory); inline sinks are always ready. */
  ready(): Promise<void>;
  /** Everything checked; after this, result() is available. */
  settle(): Promise<void>;
  result(): EventCheckResult;
  close(): void;
}

const EVENTS_PER_BATCH = 8192;

/** Runs the checks in this thread, a batch at a time. */
export class InlineEventChecks implements EventCheckSink {
  private readonly checks: EventChecks;
  private readonly events = new BatchWriter(1 << 16);
  private readonly rows = new BatchWriter(1 << 16);

  constructor(maxFindingsPerCode = 20, stateKey?: Buffer) {
    this.checks = new EventChecks(maxFindingsPerCode, stateKey);
  }

  event(ev: CheckedEvent): void {
    this.events.event(ev);
    if (this.events.count === EVENTS_PER_BATCH) this.checks.events(this.events.take());
  }

  stateRow(table: string, digest: Buffer): void {
    this.flushEvents();
    this.rows.stateRow(table, digest);
    if (this.rows.count === EVENTS_PER_BATCH) this.checks.stateRows(this.rows.take());
  }

  private flushEvents(): void {
    if (this.events.count) this.checks.events(this.events.take());
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  settle(): Promise<void> {
    return Promise.resolve();
  }

  result(): EventCheckResult {
    this.flushEvents();
    if (this.rows.count) this.checks.stateRows(this.rows.take());
    return this.checks.result();
  }

  close(): void {}
}

// A batch travels as its shared memory and a length: posting a Buffer view costs a clone.
type ToWorker = { t: 'events' | 'rows'; sab: SharedArrayBuffer; len: number } | { t: 'finish' };
type FromWorker = { t: 'ack'; buf: SharedArrayBuffer } | { t: 'result'; result: EventCheckResult } | { t: 'error'; message: string };

// The worker runs TypeScript through tsx's register API, in jest and under tsx alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
require('tsx/cjs/api').register();
const { EventChecks } = require(workerData.module);
const checks = new EventChecks(workerData.maxFindingsPerCode, Buffer.from(workerData.stateKey));
parentPort.on('message', (m) => {
  try {
    if (m.t === 'events' || m.t === 'rows') {
      const b = Buffer.from(m.sab, 0, m.len);
      if (m.t === 'events') checks.events(b); else checks.stateRows(b);
      parentPort.postMessage({ t: 'ack', buf: m.sab }); // back to the pool
    }
    else if (m.t === 'finish') parentPort.postMessage({ t: 'result', result: checks.result() });
  } catch (e) { parentPort.postMessage({ t: 'error', message: String(e && e.stack || e) }); }
});
`;

const MAX_IN_FLIGHT = 4;

/** Ships batches to one worker thread; at most MAX_IN_FLIGHT batches wait there. */
export class WorkerEventChecks implements EventCheckSink {
  private readonly worker: Worker;
  // Batches live in shared memory: posting one shares it (no copy, no detach), and the
  // worker's ack hands it back for reuse, so a long stream allocates a handful.
  private readonly pool: SharedArrayBuffer[] = [];
  private readonly alloc = (n: number): SharedArrayBuffer => {
    const i = this.pool.findIndex((b) => b.byteLength >= n);
    return i >= 0 ? (this.pool.splice(i, 1)[0] as SharedArrayBuffer) : new SharedArrayBuffer(n);
  };
  private readonly events = new BatchWriter(1 << 22, this.alloc);
  private readonly rows = new BatchWriter(1 << 16, this.alloc);
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private failure?: Error;
  private settled?: EventCheckResult;
  private onResult?: (r: EventCheckResult) => void;

  constructor(maxFindingsPerCode = 20) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: require.resolve('./eventChecks'), maxFindingsPerCode, stateKey: randomBytes(32) },
    });
    this.worker.on('message', (m: FromWorker) => {
      if (m.t === 'ack') { this.inFlight--; if (this.pool.length < 2 * MAX_IN_FLIGHT) this.pool.push(m.buf); this.wake(); }
      else if (m.t === 'result') this.onResult?.(m.result);
      else this.fail(new Error(`event checks worker: ${m.message}`));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => { if (!this.settled) this.fail(new Error(`event checks worker exited (${code})`)); });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
    this.onResult?.({ findings: [], counts: [], tables: [] });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private send(m: ToWorker): void {
    if (this.failure) throw this.failure;
    if (m.t !== 'finish') this.inFlight++;
    this.worker.postMessage(m);
  }

  private batch(t: 'events' | 'rows', w: BatchWriter): void {
    const b = w.take();
    this.send({ t, sab: b.buffer as SharedArrayBuffer, len: b.length });
  }

  event(ev: CheckedEvent): void {
    this.events.event(ev);
    if (this.events.count === EVENTS_PER_BATCH) this.batch('events', this.events);
  }

  stateRow(table: string, digest: Buffer): void {
    if (this.events.count) this.batch('events', this.events);
    this.rows.stateRow(table, digest);
    if (this.rows.count === EVENTS_PER_BATCH) this.batch('rows', this.rows);
  }

  async ready(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  async settle(): Promise<void> {
    if (this.events.count) this.batch('events', this.events);
    if (this.rows.count) this.batch('rows', this.rows);
    const result = await new Promise<EventCheckResult>((resolve) => {
      this.onResult = resolve;
      this.send({ t: 'finish' });
    });
    if (this.failure) throw this.failure;
    this.settled = result;
  }

  result(): EventCheckResult {
    if (!this.settled) throw new Error('event checks read before settle()');
    return this.settled;
  }

  close(): void {
    void this.worker.terminate();
  }
}
