// Loads the audit tables through a mysql2 connection (the auditor principal: SELECT
// on the audit tables only), in one read-only consistent snapshot.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { AuditRows, StoredSeq } from './verify';
import { checkpointOf, DT, eventOf } from './auditRows';

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
    const events = ev.map(eventOf);
    const seq: StoredSeq[] = sq.map((r) => ({ seq: BigInt(r.seq as string), eventId: BigInt(r.event_id as string) }));
    const checkpoints = cp.map(checkpointOf);
    return { events, seq, checkpoints };
  } finally {
    await conn.query('COMMIT');
  }
}
