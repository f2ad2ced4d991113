// Rows of the audit tables as mysql2 returns them, turned into the verifier's types.
// One place, so the minimal loader and the streaming verifier read columns alike.
import type { RowDataPacket } from 'mysql2/promise';
import type { StoredCheckpoint, StoredEvent } from './verify';

export const DT = (col: string, as = col.replace(/^\w+\./, '')): string => `DATE_FORMAT(${col}, '%Y-%m-%d %H:%i:%s.%f') AS ${as}`;
export const BIG = { supportBigNumbers: true, bigNumberStrings: true } as const;
export const buf = (v: unknown): Buffer | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8'));
export const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

export const EVENT_COLS = `e.event_id, e.format_version, e.table_name, e.action, e.pk_image, e.tenant_id, e.actor, ${DT('e.event_time')},
  e.incarnation, e.before_image, e.after_image, e.detail, e.leaf_hash`;

/** The leaf fields as the bytes that enter the encoding: no character set conversion on the way. */
const BIN = (col: string, as = col.replace(/^\w+\./, '')): string => `CAST(${col} AS BINARY) AS ${as}`;
/** In this order: audit/wireRows.ts reads them by position (after s.seq). */
export const RAW_EVENT_COLS = `e.event_id, e.format_version, ${BIN('e.table_name')}, ${BIN('e.action')}, e.pk_image, e.tenant_id, ${BIN('e.actor')},
  CAST(DATE_FORMAT(e.event_time, '%Y-%m-%d %H:%i:%s.%f') AS BINARY) AS event_time, ${BIN('e.incarnation')}, e.before_image, e.after_image,
  ${BIN('e.detail')}, e.leaf_hash`;

export function eventOf(r: RowDataPacket): StoredEvent {
  return {
    eventId: BigInt(r.event_id as string),
    formatVersion: Number(r.format_version),
    tableName: str(r.table_name),
    action: str(r.action),
    pkImage: buf(r.pk_image) ?? Buffer.alloc(0),
    tenantId: buf(r.tenant_id),
    actor: str(r.actor),
    eventTime: str(r.event_time),
    incarnation: str(r.incarnation),
    beforeImage: buf(r.before_image),
    afterImage: buf(r.after_image),
    detail: r.detail === null ? null : str(r.detail),
    leafHash: buf(r.leaf_hash) ?? Buffer.alloc(0),
  };
}

export function checkpointOf(r: RowDataPacket): StoredCheckpoint {
  return {
    treeSize: BigInt(r.tree_size as string),
    root: buf(r.root) as Buffer,
    prevCheckpointHash: buf(r.prev_checkpoint_hash) as Buffer,
    checkpointHash: buf(r.checkpoint_hash) as Buffer,
    sealedAt: str(r.sealed_at),
    incarnation: str(r.incarnation),
    frontier: buf(r.frontier) as Buffer,
  };
}

/** Sequenced leaves (seq > after, seq <= upTo) in keyset pages; event is null when audit_seq names a missing event. */
