// Rows of the verifier's leaf query as the server sent them: MySQL text-protocol row
// payloads (one length-encoded string per column, 0xFB for NULL). The driver's thread
// copies each payload into a batch untouched; the verifier turns it into a packed event
// here. No value is decoded on the driver's thread and no object is made per column,
// which is where the time (and most of the garbage) of reading a million rows went.
import { BatchWriter, PackedEvent } from './eventChecks';

/** The leaf query's columns, in the order the decoder reads them (after s.seq): see RAW_EVENT_COLS. */
export const WIRE_LEAF_COLUMNS = 14;
const COL_EVENT_ID = 1;
const COL_VERSION = 2;
const COL_FIRST_FIELD = 3;
const COL_TIME = 8;
const COL_LEAF = 13;

export class WireRowError extends Error {}

/** The length-encoded string headers of one row: starts[i], lens[i] (-1: NULL). Throws unless exactly `n` columns fill [start, end). */
export function splitRow(b: Uint8Array, start: number, end: number, starts: Int32Array, lens: Int32Array, n: number): void {
  let p = start;
  for (let i = 0; i < n; i++) {
    if (p >= end) throw new WireRowError(`row ends after ${i} of ${n} columns`);
    const first = b[p] as number;
    let len: number;
    if (first < 0xfb) { len = first; p += 1; } else if (first === 0xfb) { starts[i] = p + 1; lens[i] = -1; p += 1; continue; } else if (first === 0xfc) {
      len = (b[p + 1] as number) | ((b[p + 2] as number) << 8); p += 3;
    } else if (first === 0xfd) {
      len = (b[p + 1] as number) | ((b[p + 2] as number) << 8) | ((b[p + 3] as number) << 16); p += 4;
    } else if (first === 0xfe) {
      len = (b[p + 1] as number) + (b[p + 2] as number) * 2 ** 8 + (b[p + 3] as number) * 2 ** 16 + (b[p + 4] as number) * 2 ** 24;
      if ((b[p + 5] as number) | (b[p + 6] as number) | (b[p + 7] as number) | (b[p + 8] as number)) throw new WireRowError(`column ${i} is longer than 4 GiB`);
      p += 9;
    } else throw new WireRowError(`column ${i} has the length marker 0x${first.toString(16)}`);
    if (p + len > end) throw new WireRowError(`column ${i} (${len} bytes) runs past the row`);
    starts[i] = p;
    lens[i] = len;
    p += len;
  }
  if (p !== end) throw new WireRowError(`${end - p} bytes after the last of ${n} columns`);
}

/** An unsigned decimal column (the text protocol's integers): a number while exact, else a bigint. */
export function decimalAt(b: Uint8Array, at: number, len: number): number | bigint {
  if (len <= 0 || len > 20) throw new WireRowError(`an integer column of ${len} bytes`);
  if (len <= 15) {
    let v = 0;
    for (let i = at; i < at + len; i++) {
      const d = (b[i] as number) - 48;
      if (d < 0 || d > 9) throw new WireRowError('an integer column that is not decimal digits');
      v = v * 10 + d;
    }
    return v;
  }
  let s = '';
  for (let i = at; i < at + len; i++) {
    const c = b[i] as number;
    if (c < 48 || c > 57) throw new WireRowError('an integer column that is not decimal digits');
    s += String.fromCharCode(c);
  }
  return BigInt(s);
}

/** The event_id of a leaf row (its second column), or null when audit_seq names no event; the driver's thread reads only this. */
export function wireEventId(b: Uint8Array, start: number, end: number): number | bigint | null {
  const seqLen = b[start] as number;
  const at = start + 1 + seqLen;
  if (seqLen >= 0xfb || at >= end) throw new WireRowError('a leaf row does not start with its seq');
  const idLen = b[at] as number;
  if (idLen === 0xfb) return null;
  if (idLen >= 0xfb || at + 1 + idLen > end) throw new WireRowError('a leaf row has a malformed event_id');
  return decimalAt(b, at + 1, idLen);
}

/** Turns leaf rows into (seq, packed event) in one reused buffer; the event is valid until the next row. */
export class WireLeafDecoder {
  private readonly starts = new Int32Array(WIRE_LEAF_COLUMNS);
  private readonly lens = new Int32Array(WIRE_LEAF_COLUMNS);
  private readonly out = new BatchWriter(1 << 14);
  seq = 0n;

  /** Decodes b[start, end): sets `seq`, returns the event packed, or null when the row names no event. */
  decode(b: Buffer, start: number, end: number): PackedEvent | null {
    const { starts, lens } = this;
    splitRow(b, start, end, starts, lens, WIRE_LEAF_COLUMNS);
    if (lens[0] as number < 0) throw new WireRowError('a leaf row without a seq');
    this.seq = BigInt(decimalAt(b, starts[0] as number, lens[0] as number));
    if ((lens[COL_EVENT_ID] as number) < 0) return null;
    const eventId = BigInt(decimalAt(b, starts[COL_EVENT_ID] as number, lens[COL_EVENT_ID] as number));
    const version = (lens[COL_VERSION] as number) < 0 ? 0 : Number(decimalAt(b, starts[COL_VERSION] as number, lens[COL_VERSION] as number));
    const out = this.out;
    out.reset();
    const leafAt = starts[COL_LEAF] as number;
    const leafLen = Math.max(lens[COL_LEAF] as number, 0);
    out.packedEvent(eventId, version, b, leafAt, leafLen, b, starts, lens, COL_FIRST_FIELD);
    const timeLen = lens[COL_TIME] as number;
    return {
      packed: true,
      eventId,
      eventTime: timeLen < 0 ? '' : b.toString('latin1', starts[COL_TIME] as number, (starts[COL_TIME] as number) + timeLen),
      // Copied: the tree keeps leaves (frontier, proof ranges) after this row's memory is reused.
      leafHash: Buffer.from(b.subarray(leafAt, leafAt + Math.min(leafLen, 255))),
      batch: out.buf, off: 0, end: out.off,
    };
  }
}
