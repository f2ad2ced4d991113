// Where the stream verifier sends each event for the order-free checks
// (audit/eventChecks.ts). In a verifier worker (audit/verifyThread.ts) the events
// arrive packed and are checked where they lie; otherwise they are packed here, a
// batch at a time, for the same code.
import { BatchWriter, CheckedEvent, EventCheckResult, EventChecks } from './eventChecks';

export interface EventCheckSink {
  event(ev: CheckedEvent): void;
  stateRow(table: string, digest: Buffer): void;
  /** Everything fed so far, checked. */
  result(): EventCheckResult;
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
    if ('packed' in ev) {
      // Already a record in a batch (a verifier worker's input): checked where it lies.
      this.flushEvents();
      this.checks.record(ev.batch, ev.off, ev.end);
      return;
    }
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

  result(): EventCheckResult {
    this.flushEvents();
    if (this.rows.count) this.checks.stateRows(this.rows.take());
    return this.checks.result();
  }
}

