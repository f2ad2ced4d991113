// Rows of the verifier's leaf query as a MySQL server sends them (text protocol: one
// length-encoded string per column, 0xFB for NULL), built from decoded events.
import type { StoredEvent } from '../../../../audit/verify';

/** A length-encoded integer (MySQL client/server protocol). */
export function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 2 ** 16) return Buffer.from([0xfc, n & 0xff, n >>> 8]);
  if (n < 2 ** 24) return Buffer.from([0xfd, n & 0xff, (n >>> 8) & 0xff, n >>> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

/** One text-protocol row of these column values. */
export function wireRow(cols: (Buffer | string | null)[]): Buffer {
  return Buffer.concat(cols.flatMap((c) => {
    if (c === null) return [Buffer.from([0xfb])];
    const b = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    return [lenenc(b.length), b];
  }));
}

/** `s.seq, RAW_EVENT_COLS` for one leaf (event null: audit_seq names a missing event, every event column NULL). */
export function leafRow(seq: bigint, e: StoredEvent | null): Buffer {
  if (!e) return wireRow([String(seq), ...Array<null>(13).fill(null)]);
  return wireRow([String(seq), String(e.eventId), String(e.formatVersion), e.tableName, e.action, e.pkImage, e.tenantId, e.actor,
    e.eventTime, e.incarnation, e.beforeImage, e.afterImage, e.detail, e.leafHash]);
}
