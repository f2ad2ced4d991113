// The anchor snapshot: a definer-rights procedure the anchor service (which has
// EXECUTE on it and nothing else) calls every 60 s. It returns the server identity,
// the latest checkpoint and a fingerprint of the audit machinery: every trigger,
// routine, event and view of the schema and every grant on it. Any change to those
// shows up as a new fingerprint in the next anchor.
import { DEFINER, definerReadProcedureSql } from './sqlExpr';

export const ANCHOR_SNAPSHOT_PROCEDURE = 'audit_anchor_snapshot';
/** Root of the empty RFC 6962 tree: SHA-256 of the empty string. */
export const EMPTY_TREE_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** One line per object, NULLs spelled out, so no two definitions hash alike. */
export function fingerprintSelect(schema: string): string {
  const s = `'${schema}'`;
  const f = (cols: string[]): string => `CONCAT_WS(0x1f, ${cols.map((c) => `IFNULL(${c}, '<null>')`).join(', ')})`;
  return `SHA2(CONCAT_WS(0x1e,
    (SELECT GROUP_CONCAT(${f(['TRIGGER_NAME', 'EVENT_MANIPULATION', 'EVENT_OBJECT_TABLE', 'ACTION_TIMING', 'ACTION_ORDER', 'ACTION_STATEMENT', 'DEFINER'])} ORDER BY TRIGGER_NAME SEPARATOR 0x1d)
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${s}),
    (SELECT GROUP_CONCAT(${f(['ROUTINE_TYPE', 'ROUTINE_NAME', 'SECURITY_TYPE', 'DEFINER', 'SQL_DATA_ACCESS', 'ROUTINE_DEFINITION'])} ORDER BY ROUTINE_TYPE, ROUTINE_NAME SEPARATOR 0x1d)
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${s}),
    (SELECT GROUP_CONCAT(${f(['EVENT_NAME', 'DEFINER', 'STATUS', 'INTERVAL_VALUE', 'INTERVAL_FIELD', 'EVENT_DEFINITION'])} ORDER BY EVENT_NAME SEPARATOR 0x1d)
       FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${s}),
    (SELECT GROUP_CONCAT(${f(['TABLE_NAME', 'SECURITY_TYPE', 'DEFINER', 'VIEW_DEFINITION'])} ORDER BY TABLE_NAME SEPARATOR 0x1d)
       FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${s}),
    (SELECT GROUP_CONCAT(${f(['User', 'Host', 'Table_name', 'Table_priv', 'Column_priv'])} ORDER BY User, Host, Table_name SEPARATOR 0x1d)
       FROM mysql.tables_priv WHERE Db = ${s}),
    (SELECT GROUP_CONCAT(${f(['User', 'Host', 'Routine_name', 'Routine_type', 'Proc_priv'])} ORDER BY User, Host, Routine_name SEPARATOR 0x1d)
       FROM mysql.procs_priv WHERE Db = ${s}),
    (SELECT GROUP_CONCAT(${f(['User', 'Host', 'Select_priv', 'Insert_priv', 'Update_priv', 'Delete_priv', 'Create_priv', 'Drop_priv', 'Alter_priv', 'Trigger_priv', 'Event_priv', 'Execute_priv', 'Create_routine_priv', 'Alter_routine_priv'])} ORDER BY User, Host SEPARATOR 0x1d)
       FROM mysql.db WHERE Db = ${s})
  ), 256)`;
}

export function anchorSnapshotSql(schema: string): string {
  return [
    `GRANT SELECT ON mysql.tables_priv TO ${DEFINER};`,
    `GRANT SELECT ON mysql.procs_priv TO ${DEFINER};`,
    `GRANT SELECT ON mysql.db TO ${DEFINER};`,
    ...definerReadProcedureSql(schema, ANCHOR_SNAPSHOT_PROCEDURE, 'ztmysql anchor: server identity, latest checkpoint, audit machinery fingerprint', [
      '  SET SESSION group_concat_max_len = 67108864;',
      `  SELECT @@server_uuid, IFNULL(cp.incarnation, ''), IFNULL(cp.tree_size, 0),`,
      `         LOWER(IFNULL(HEX(cp.root), '${EMPTY_TREE_ROOT}')), LOWER(IFNULL(HEX(cp.checkpoint_hash), REPEAT('0', 64))),`,
      `         IFNULL(DATE_FORMAT(cp.sealed_at, '%Y-%m-%dT%H:%i:%s.%fZ'), ''),`,
      `         ${fingerprintSelect(schema).replace(/\n/g, '\n         ')}`,
      '    FROM (SELECT 1) AS one',
      `    LEFT JOIN (SELECT * FROM \`${schema}\`.audit_checkpoints ORDER BY tree_size DESC LIMIT 1) AS cp ON TRUE;`,
    ]),
    '',
  ].join('\n');
}
