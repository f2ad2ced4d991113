// State reconciliation: the current rows of every protected table must be exactly what
// replaying the audited changes gives. Both sides are folded, per table, into a keyed
// multiset hash (audit/multisetHash.ts) under one key drawn for this run, so the
// verifier keeps O(1) memory however many rows or events:
//   expected = Σ after-images − Σ before-images   (INSERT/UPDATE/DELETE events)
//   actual   = Σ current rows                      (digests from a definer procedure)
// Each element is SHA-256 of the row image in the audit encoding
// (docs/audit-log-format.md), so the auditor never sees a column value, only digests;
// sql/stateDigests.ts renders the procedure that digests the current rows.
import { TABLE_SPECS } from '../sql/tableSpecs';
import { sha256 } from './format';
import { MultisetHash, MultisetHashKey } from './multisetHash';

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
