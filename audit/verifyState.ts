// State reconciliation: the current rows of every protected table must be exactly what
// replaying the audited changes gives. Both sides are folded into a homomorphic set
// hash per table (LtHash16, Lewi et al. 2019: 1024 lanes of 16 bits, element expanded
// with SHAKE256), so the verifier keeps O(1) memory however many rows or events:
//   expected = Σ after-images − Σ before-images   (INSERT/UPDATE/DELETE events)
//   actual   = Σ current rows                      (digests from a definer procedure)
// Each element is SHA-256 of the row image in the audit encoding
// (docs/audit-log-format.md), so the auditor never sees a column value, only digests.
import { createHash } from 'node:crypto';
import { TABLE_SPECS, TableSpec } from '../sql/tableSpecs';
import { DEFINER, hexLit, ident, valueFieldSql } from '../sql/sqlExpr';
import { encodeField, sha256, textField } from './format';

export const STATE_PROCEDURE = 'audit_state_digests';
const LANES = 1024;

export class LtHash {
  readonly lanes = new Uint16Array(LANES);

  private static expand(element: Buffer): Uint16Array {
    const x = createHash('shake256', { outputLength: LANES * 2 }).update(element).digest();
    return new Uint16Array(x.buffer, x.byteOffset, LANES);
  }

  add(element: Buffer): void {
    const e = LtHash.expand(element);
    for (let i = 0; i < LANES; i++) this.lanes[i] = (this.lanes[i]! + e[i]!) & 0xffff;
  }

  remove(element: Buffer): void {
    const e = LtHash.expand(element);
    for (let i = 0; i < LANES; i++) this.lanes[i] = (this.lanes[i]! - e[i]!) & 0xffff;
  }

  equals(o: LtHash): boolean {
    for (let i = 0; i < LANES; i++) if (this.lanes[i] !== o.lanes[i]) return false;
    return true;
  }

  /** A short printable digest of the state. */
  digest(): string {
    return createHash('sha256').update(Buffer.from(this.lanes.buffer)).digest('hex').slice(0, 16);
  }
}

export const imageDigest = (image: Buffer): Buffer => sha256(image);

/** Replays events into expected per-table state hashes. */
export class StateReplay {
  readonly expected = new Map<string, { hash: LtHash; rows: number }>();
  private readonly protectedTables = new Set(TABLE_SPECS.map((t) => t.name));

  private table(name: string): { hash: LtHash; rows: number } {
    let t = this.expected.get(name);
    if (!t) { t = { hash: new LtHash(), rows: 0 }; this.expected.set(name, t); }
    return t;
  }

  event(tableName: string, action: string, before: Buffer | null, after: Buffer | null): void {
    if (action === 'READ' || !this.protectedTables.has(tableName)) return;
    const t = this.table(tableName);
    if (before) { t.hash.remove(imageDigest(before)); t.rows--; }
    if (after) { t.hash.add(imageDigest(after)); t.rows++; }
  }

  tables(): string[] {
    return TABLE_SPECS.map((t) => t.name);
  }

  expectedOf(name: string): { hash: LtHash; rows: number } {
    return this.table(name);
  }
}

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
    `DROP PROCEDURE IF EXISTS \`${schema}\`.${STATE_PROCEDURE};`,
    'DELIMITER //',
    `CREATE DEFINER=${DEFINER} PROCEDURE \`${schema}\`.${STATE_PROCEDURE}()`,
    '  READS SQL DATA SQL SECURITY DEFINER',
    "  COMMENT 'ztmysql verify: SHA-256 of the audit image of every protected row (state reconciliation)'",
    'BEGIN',
    `  ${selects.join('\n  UNION ALL\n  ')};`,
    'END //',
    'DELIMITER ;',
    ...(auditor ? [`GRANT EXECUTE ON PROCEDURE \`${schema}\`.${STATE_PROCEDURE} TO '${auditor.user}'@'${auditor.host}';`] : []),
    '',
  ].join('\n');
}
