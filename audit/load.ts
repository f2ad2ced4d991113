// Loads the audit tables through a mysql2 connection (the auditor principal: SELECT
// on the audit tables only), in one read-only consistent snapshot.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { AuditRows, StoredCheckpoint, StoredEvent, StoredSeq } from './verify';

const DT = (col: string): string => `DATE_FORMAT(${col}, '%Y-%m-%d %H:%i:%s.%f') AS ${col}`;
const buf = (v: unknown): Buffer | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8'));
const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

export async function loadAuditRows(conn: Connection): Promise<AuditRows> {
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  try {
    const [ev] = await conn.query<RowDataPacket[]>({
      sql: `SELECT CAST(event_id AS CHAR) AS event_id, format_version, table_name, action, pk_image, tenant_id, actor, ${DT('event_time')},
        incarnation, before_image, after_image, detail, leaf_hash FROM audit_events ORDER BY event_id`,
      supportBigNumbers: true, bigNumberStrings: true,
    });
    const [sq] = await conn.query<RowDataPacket[]>('SELECT CAST(seq AS CHAR) AS seq, CAST(event_id AS CHAR) AS event_id FROM audit_seq ORDER BY seq');
    const [cp] = await conn.query<RowDataPacket[]>(`SELECT CAST(tree_size AS CHAR) AS tree_size, root, prev_checkpoint_hash, checkpoint_hash,
      ${DT('sealed_at')}, incarnation, frontier FROM audit_checkpoints ORDER BY tree_size`);
    const events: StoredEvent[] = ev.map((r) => ({
      eventId: BigInt(r.event_id as string),
      formatVersion: Number(r.format_version),
      tableName: str(r.table_name),
      action: str(r.action),
      pkImage: buf(r.pk_image) as Buffer,
      tenantId: buf(r.tenant_id),
      actor: str(r.actor),
      eventTime: str(r.event_time),
      incarnation: str(r.incarnation),
      beforeImage: buf(r.before_image),
      afterImage: buf(r.after_image),
      detail: r.detail === null ? null : str(r.detail),
      leafHash: buf(r.leaf_hash) as Buffer,
    }));
    const seq: StoredSeq[] = sq.map((r) => ({ seq: BigInt(r.seq as string), eventId: BigInt(r.event_id as string) }));
    const checkpoints: StoredCheckpoint[] = cp.map((r) => ({
      treeSize: BigInt(r.tree_size as string),
      root: buf(r.root) as Buffer,
      prevCheckpointHash: buf(r.prev_checkpoint_hash) as Buffer,
      checkpointHash: buf(r.checkpoint_hash) as Buffer,
      sealedAt: str(r.sealed_at),
      incarnation: str(r.incarnation),
      frontier: buf(r.frontier) as Buffer,
    }));
    return { events, seq, checkpoints };
  } finally {
    await conn.query('COMMIT');
  }
}
