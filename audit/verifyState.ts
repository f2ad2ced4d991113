// State reconciliation: the current rows of every protected table must be exactly what
// replaying the audited changes gives. Both sides are folded, per table, into a keyed
// multiset hash (audit/multisetHash.ts) under one key drawn for this run, so the
// verifier keeps O(1) memory however many rows or events:
//   expected = Σ after-images − Σ before-images   (INSERT/UPDATE/DELETE events)
//   actual   = Σ current rows                      (digests from a definer procedure)
// Each element is SHA-256 of the row image in the audit encoding
// (docs/audit-log-format.md), so the auditor never sees a column value, only digests.
import { TABLE_SPECS, TableSpec } from '../sql/tableSpecs';
import { definerReadProcedureSql, hexLit, ident, valueFieldSql } from '../sql/sqlExpr';
import { encodeField, sha256, textField } from './format';
import { MultisetHash, MultisetHashKey } from './multisetHash';

export const STATE_PROCEDURE = 'audit_state_digests';

export const imageDigest = (image: Buffer): Buffer => sha256(image);

export interface TableState {
  readonly table: string;
  readonly expectedRows: number;
  readonly actualRows: number;
  readonly equal: boolean;
}

/** Expected (replayed) and actual (current rows) multiset hashes per protected table. */
export class StateReplay {
  private readonly key: MultisetHashKey;
  private readonly sides = new Map<string, { expected: MultisetHash; actual: MultisetHash }>();

  constructor(key?: Buffer) {
    this.key = new MultisetHashKey(key);
    for (const t of TABLE_SPECS) this.sides.set(t.name, { expected: this.key.create(), actual: this.key.create() });
  }

  /** An audit event, by the SHA-256 of its images (latin1 strings): the before-image leaves the expected state, the after-image enters it. */
  eventDigests(tableName: string, action: string, before: string | null, after: string | null): void {
    if (action === 'READ') return;
    const t = this.sides.get(tableName);
    if (!t) return;
    if (before !== null) t.expected.pushLatin1(before, -1);
    if (after !== null) t.expected.pushLatin1(after, 1);
  }

  /** A current row of a protected table, as SHA-256 of its image. False for a table that is not protected. */
  actualRow(tableName: string, digest: Buffer): boolean {
    const t = this.sides.get(tableName);
    if (!t) return false;
    t.actual.add(digest);
    return true;
  }

  compare(): TableState[] {
    return [...this.sides].map(([table, s]) => ({
      table, expectedRows: s.expected.count, actualRows: s.actual.count, equal: s.expected.equals(s.actual),
    }));
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
    ...definerReadProcedureSql(schema, STATE_PROCEDURE, 'ztmysql verify: SHA-256 of the audit image of every protected row (state reconciliation)',
      [`  ${selects.join('\n  UNION ALL\n  ')};`]),
    ...(auditor ? [`GRANT EXECUTE ON PROCEDURE \`${schema}\`.${STATE_PROCEDURE} TO '${auditor.user}'@'${auditor.host}';`] : []),
    '',
  ].join('\n');
}
