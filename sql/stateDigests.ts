// The read-only definer procedure that gives the verifier the current state: one row
// per row of every protected table, (table_name, SHA-256 of its audit row image), the
// very bytes the triggers log as after-images (audit/verifyState.ts replays those).
import { encodeField, textField } from '../audit/format';
import { definerReadProcedureSql, hexLit, ident, valueFieldSql } from './sqlExpr';
import { TABLE_SPECS, TableSpec } from './tableSpecs';

export const STATE_PROCEDURE = 'audit_state_digests';

/** The audit row image of table alias `r` (same bytes as the triggers' after-image). */
export function rowImageSql(t: TableSpec, r: string): string {
  const parts = t.columns.map((c) => `${hexLit(encodeField(textField(c.name)))}, ${valueFieldSql(c, `${r}.${ident(c.name)}`)}`);
  return `CONCAT(${parts.join(',\n      ')})`;
}

/**
 * The definer procedure the verifier calls for the actual state: one row per row of
 * every protected table, (table_name, SHA-256(row image)). Run as root (statements
 * end with ';', the body uses DELIMITER //). The auditor needs EXECUTE on it.
 */
export function stateProcedureSql(schema: string, auditor?: { user: string; host: string }): string {
  const selects = TABLE_SPECS.map((t) => `SELECT ${hexLit(Buffer.from(t.name, 'utf8'))} AS table_name, UNHEX(SHA2(${rowImageSql(t, 'r')}, 256)) AS digest FROM \`${schema}\`.${ident(t.name)} r`);
  return [
    ...definerReadProcedureSql(schema, STATE_PROCEDURE, 'ztmysql verify: SHA-256 of the audit image of every protected row (state reconciliation)',
      [`  ${selects.join('\n  UNION ALL\n  ')};`]),
    ...(auditor ? [`GRANT EXECUTE ON PROCEDURE \`${schema}\`.${STATE_PROCEDURE} TO '${auditor.user}'@'${auditor.host}';`] : []),
    '',
  ].join('\n');
}
