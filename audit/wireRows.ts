// Rows of the verifier's leaf query as the server sent them: MySQL text-protocol row
// payloads (one length-encoded string per column, 0xFB for NULL), packed into verifier
// batches straight from the driver's packet. No value is decoded and no object made per
// column, which is where the time (and most of the garbage) of reading a million rows
// went when the driver decoded them.
import type { BatchWriter } from './eventChecks';

/** The leaf query's columns, in the order the decoder reads them (after s.seq): see RAW_EVENT_COLS. */
export const WIRE_LEAF_COLUMNS = 14;
const COL_EVENT_ID = 1;
const COL_VERSION = 2;
const COL_FIRST_FIELD = 3;
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

/** Packs leaf rows straight into verifier batches: a LEAF record (seq, event record) or a NULL_LEAF when the row names no event. */
export class WireLeafPacker {
  private readonly starts = new Int32Array(WIRE_LEAF_COLUMNS);
  private readonly lens = new Int32Array(WIRE_LEAF_COLUMNS);

  /**
   * Packs row[start, end) into `w` and returns its event_id (null: the row names no
   * event); throws WireRowError on a malformed row, having written nothing.
   */
  pack(w: BatchWriter, row: Buffer, start: number, end: number): bigint | null {
    const { starts, lens } = this;
    splitRow(row, start, end, starts, lens, WIRE_LEAF_COLUMNS);
    if ((lens[0] as number) < 0) throw new WireRowError('a leaf row without a seq');
    const seq = BigInt(decimalAt(row, starts[0] as number, lens[0] as number));
    if ((lens[COL_EVENT_ID] as number) < 0) {
      w.leafRecord(seq, false);
      return null;
    }
    // Everything that can refuse the row is read before a byte is written.
    const eventId = BigInt(decimalAt(row, starts[COL_EVENT_ID] as number, lens[COL_EVENT_ID] as number));
    const version = (lens[COL_VERSION] as number) < 0 ? 0 : Number(decimalAt(row, starts[COL_VERSION] as number, lens[COL_VERSION] as number));
    w.leafRecord(seq, true);
    w.packedEvent(eventId, version, row, starts, lens, COL_FIRST_FIELD, starts[COL_LEAF] as number, Math.max(lens[COL_LEAF] as number, 0));
    return eventId;
  }
}
