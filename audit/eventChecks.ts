// The per-event checks that do not depend on order: the leaf hash recomputed from the
// row content, the shape of the three row images, and the state replay (with the
// current rows for the other side). The checks read an event in its packed form: the
// verifier thread (audit/verifyThread.ts) receives batches of packed records and checks
// them where they lie; an event in any other form is packed first.
//
// One packed event: u32be(record length) || u64be(event_id) || u8(stored leaf length)
// || stored leaf || 0x00 || leaf_data (the RFC 6962 leaf-hash input, written in place).
// One packed current row: u8(table name length) || table name || 32-byte digest.
import { checkImage, EVENT_MAGIC, FieldType, fieldsSize, leafFields, sha256Latin1, EVENT_FORMAT_VERSION, writeFields } from './format';
import type { Findings } from './findings';
import type { StoredCheckpoint, StoredEvent } from './verify';
import { StateReplay, TableState } from './verifyState';

/** An event already packed (a record in a batch a worker received): checked in place. */
export interface PackedEvent {
  readonly packed: true;
  readonly eventId: bigint;
  readonly eventTime: string;
  readonly leafHash: Buffer;
  readonly batch: Buffer;
  /** The event record: batch[off, end). */
  readonly off: number;
  readonly end: number;
}

/** An event as a database driver yields it decoded, or packed. */
export type CheckedEvent = StoredEvent | PackedEvent;

/** Kinds of the records a verifier batch carries (audit/verifyThread.ts), one byte before each. */
export const RecordKind = { LEAF: 1, NULL_LEAF: 2, CHECKPOINT: 3, UNSEALED: 4, STATE_ROW: 5 } as const;

// Module-local copies of imported bindings used per event: the CommonJS interop turns
// every access to an import into a getter call, which shows in the hot loops.
const T_NULL: number = FieldType.NULL;
const VERSION: number = EVENT_FORMAT_VERSION;
const hashLatin1 = sha256Latin1;
const imageShape = checkImage;

/** The type byte of each of the ten leaf fields when not NULL (docs/audit-log-format.md). */
const LEAF_TYPES: readonly number[] = [FieldType.TEXT, FieldType.TEXT, FieldType.BYTES, FieldType.UUID, FieldType.TEXT,
  FieldType.DATETIME, FieldType.TEXT, FieldType.BYTES, FieldType.BYTES, FieldType.TEXT];

/** A growable byte buffer for one batch, handed over whole (its memory is its own). */
export class BatchWriter {
  buf: Buffer;
  /** Over buf: DataView's BigInt accessors are builtins, Buffer's are JavaScript. */
  private view: DataView;
  off = 0;
  count = 0;

  /** `alloc` may hand back buffers a consumer returned (a worker transfers them back). */
  constructor(private readonly initial = 1 << 20, private readonly alloc: (n: number) => ArrayBufferLike = (n) => new ArrayBuffer(n)) {
    this.buf = Buffer.from(alloc(initial));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  private use(b: Buffer): void {
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.length);
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.from(this.alloc(Math.max(this.buf.length * 2, this.off + n)));
    this.buf.copy(next, 0, 0, this.off);
    this.use(next);
  }

  /** The batch so far (sharing memory); the writer starts a new buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.off);
    this.use(Buffer.from(this.alloc(this.initial)));
    this.off = 0;
    this.count = 0;
    return out;
  }

  /** Starts over in the same memory (a scratch writer for one record at a time). */
  reset(): void {
    this.off = 0;
    this.count = 0;
  }

  /** Packs one event (the same bytes as format.leafHashInput, whatever its version). */
  event(ev: StoredEvent): void {
    const fields = leafFields(ev);
    this.header(ev.eventId, ev.formatVersion, ev.leafHash, 0, ev.leafHash.length, fieldsSize(fields));
    this.off = writeFields(this.buf, this.off, fields);
    this.end();
  }

  private start = 0;

  /** Record length placeholder, event id, stored leaf (src[leafAt, +leafLen), at most 255 bytes), then 0x00 "ZTEV" version. */
  private header(eventId: bigint, version: number, src: Uint8Array, leafAt: number, leafLen: number, extra = 0): void {
    this.start = this.off;
    const len = Math.min(leafLen, 255);
    this.ensure(4 + 8 + 1 + len + 6 + extra);
    const b = this.buf;
    let o = this.off + 4;
    this.view.setBigUint64(o, BigInt.asUintN(64, eventId));
    b[o + 8] = len;
    o += 9;
    for (let i = 0; i < len; i++) b[o + i] = src[leafAt + i] as number;
    o += len;
    b[o] = 0x00;
    b.set(EVENT_MAGIC, o + 1);
    b[o + 5] = version & 0xff;
    this.off = o + 6;
  }

  private end(): void {
    this.buf.writeUInt32BE(this.off - this.start, this.start);
    this.count++;
  }

  /**
   * Packs one event from byte ranges of `src` (a row as the server sent it): the ten
   * leaf fields are columns first..first+9 (lens -1: NULL), copied behind their type
   * and length, the stored leaf from src[leafAt, +leafLen). One bounds check; short
   * fields copied here, long ones natively.
   */
  packedEvent(eventId: bigint, version: number, src: Buffer, starts: Int32Array, lens: Int32Array, first: number, leafAt: number, leafLen: number): void {
    let size = 50;
    for (let i = 0; i < 10; i++) size += Math.max(lens[first + i] as number, 0);
    this.header(eventId, version, src, leafAt, leafLen, size);
    const b = this.buf;
    let o = this.off;
    for (let i = 0; i < 10; i++) {
      const len = lens[first + i] as number;
      b[o] = len < 0 ? T_NULL : (LEAF_TYPES[i] as number);
      const n = len < 0 ? 0 : len;
      b[o + 1] = n >>> 24;
      b[o + 2] = (n >>> 16) & 0xff;
      b[o + 3] = (n >>> 8) & 0xff;
      b[o + 4] = n & 0xff;
      o += 5;
      const at = starts[first + i] as number;
      if (n > 48) src.copy(b, o, at, at + n);
      else for (let k = 0; k < n; k++) b[o + k] = src[at + k] as number;
      o += n;
    }
    this.off = o;
    this.end();
  }

  stateRow(table: string, digest: Buffer): void {
    const name = Buffer.from(table, 'utf8').subarray(0, 255);
    this.ensure(1 + name.length + 32);
    this.buf[this.off] = name.length;
    name.copy(this.buf, this.off + 1);
    this.off += 1 + name.length;
    this.buf.fill(0, this.off, this.off + 32);
    digest.copy(this.buf, this.off, 0, 32);
    this.off += 32;
    this.count++;
  }

  private kind(k: number, extra = 0): void {
    this.ensure(1 + extra);
    this.buf[this.off++] = k;
  }

  private u64(n: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.off, BigInt.asUintN(64, n));
    this.off += 8;
  }

  private bytes(b: Buffer, width: 1 | 2 | 4): void {
    const len = Math.min(b.length, width === 1 ? 255 : width === 2 ? 65535 : 0xffffffff);
    this.ensure(width + len);
    this.buf.writeUIntBE(len, this.off, width);
    this.buf.set(len === b.length ? b : b.subarray(0, len), this.off + width);
    this.off += width + len;
  }

  /** A sequenced leaf: kind, seq, then its event record (or none: audit_seq names a missing event). */
  leaf(seq: bigint, ev: StoredEvent | null): void {
    this.leafRecord(seq, ev !== null);
    if (ev) this.event(ev);
  }

  /** The start of a leaf record: kind and seq; when `present`, an event record must follow. */
  leafRecord(seq: bigint, present: boolean): void {
    this.kind(present ? RecordKind.LEAF : RecordKind.NULL_LEAF);
    this.u64(seq);
    if (!present) this.count++;
  }

  unsealed(ev: StoredEvent, queued: boolean): void {
    this.kind(RecordKind.UNSEALED, 1);
    this.buf[this.off++] = queued ? 1 : 0;
    this.event(ev);
  }

  checkpoint(cp: StoredCheckpoint): void {
    this.kind(RecordKind.CHECKPOINT);
    this.u64(cp.treeSize);
    this.bytes(cp.root, 1);
    this.bytes(cp.prevCheckpointHash, 1);
    this.bytes(cp.checkpointHash, 1);
    this.bytes(Buffer.from(cp.sealedAt, 'utf8'), 2);
    this.bytes(Buffer.from(cp.incarnation, 'utf8'), 2);
    this.bytes(cp.frontier, 4);
    this.count++;
  }

  stateRowRecord(table: string, digest: Buffer): void {
    this.kind(RecordKind.STATE_ROW);
    this.stateRow(table, digest);
  }
}

const hex = (b: Buffer): string => b.toString('hex');
const DIGEST_BYTES = 32;

/** The order-free checks; findings go to the verifier's own list, in stream order. */
export class EventChecks {
  private readonly state: StateReplay;
  /** Packs an event that does not arrive packed, one at a time. */
  private readonly scratch = new BatchWriter(1 << 12);

  constructor(private readonly findings: Findings, stateKey?: Buffer) {
    this.state = new StateReplay(stateKey);
  }

  /** Checks one event: a packed record where it lies, any other form packed first. */
  event(ev: CheckedEvent): void {
    if ('packed' in ev) {
      this.record(ev.batch, ev.off, ev.end);
      return;
    }
    this.scratch.reset();
    this.scratch.event(ev);
    this.record(this.scratch.buf, 0, this.scratch.off);
  }

  // Field offsets of the event being checked (reused: no arrays per event).
  private readonly starts = new Int32Array(10);
  private readonly ends = new Int32Array(10);
  private readonly types = new Uint8Array(10);

  /** One packed event record, batch[off, end). */
  private record(batch: Buffer, off: number, end: number): void {
    const leafLen = batch[off + 12] as number;
    const storedAt = off + 13;
    const inputAt = storedAt + leafLen;
    // Ten fields after 0x00 "ZTEV" version; the packer wrote the headers, so they hold.
    const { starts, ends, types } = this;
    let p = inputAt + 6;
    for (let i = 0; i < 10; i++) {
      types[i] = batch[p] as number;
      starts[i] = p + 5;
      ends[i] = p + 5 + batch.readUInt32BE(p + 1);
      p = ends[i] as number;
    }
    const hasBefore = types[7] !== T_NULL;
    const hasAfter = types[8] !== T_NULL;
    try {
      const version = batch[inputAt + 5] as number;
      if (version !== VERSION) throw new Error(`unsupported event format version ${version}`);
      const computed = hashLatin1(batch.subarray(inputAt, end));
      imageShape(batch, starts[2], ends[2]);
      if (hasBefore) imageShape(batch, starts[7], ends[7]);
      if (hasAfter) imageShape(batch, starts[8], ends[8]);
      if (computed !== batch.toString('latin1', storedAt, inputAt)) {
        const id = String(batch.readBigUInt64BE(off + 4));
        this.findings.add('LEAF_MISMATCH', `event ${id}: the row content hashes to ${Buffer.from(computed, 'latin1').toString('hex')}, the stored leaf is ${hex(batch.subarray(storedAt, inputAt))}`, { event: id });
      }
    } catch (e) {
      const id = String(batch.readBigUInt64BE(off + 4));
      this.findings.add('MALFORMED_EVENT', `event ${id}: ${(e as Error).message}`, { event: id });
    }
    this.state.eventDigests(
      batch.toString('utf8', starts[0], ends[0]), batch.toString('utf8', starts[1], ends[1]),
      hasBefore ? hashLatin1(batch.subarray(starts[7], ends[7])) : null,
      hasAfter ? hashLatin1(batch.subarray(starts[8], ends[8])) : null,
    );
  }

  /** A current row (SHA-256 of its image; other lengths are zero-padded or cut to 32 bytes, as packed). */
  stateRow(table: string, digest: Buffer): void {
    const d = digest.length === DIGEST_BYTES ? digest : Buffer.concat([digest, Buffer.alloc(DIGEST_BYTES)]).subarray(0, DIGEST_BYTES);
    if (!this.state.actualRow(table, d)) {
      this.findings.add('STATE_MISMATCH', `the state procedure returned a row of ${JSON.stringify(table)}, which is not a protected table: the procedure was altered`, { table });
    }
  }

  /** Expected against actual state, per protected table. */
  tables(): TableState[] {
    return this.state.compare();
  }
}
