// What `ztmysql verify` reports: every finding has a precise code (what check failed)
// and a kind (what the auditor should conclude), docs/verifying.md lists them all.

export type FindingKind =
  | 'truncation' // the DB holds fewer leaves than were anchored / checkpointed
  | 'rewrite' // a root, checkpoint or consistency proof disagrees with the history
  | 'fork' // two checkpoints or anchors disagree at the same size / about their predecessor
  | 'reorder' // leaves are not in the order the sealer gives them
  | 'forged-event' // an event the trigger path did not produce, or whose content no longer matches its leaf
  | 'missing-event' // a sequenced or queued event is gone
  | 'unsealed-age' // events older than the bound without a seq (the sealer is not running)
  | 'anchor-cadence' // a gap between consecutive anchors above the bound
  | 'anchor-stale' // no anchor, or the latest one older than the bound
  | 'anchor-malformed' // an anchor line that cannot be read
  | 'anchor-file' // an anchor object missing, modified after it was written, or writable
  | 'schema-change' // the audit machinery fingerprint changed
  | 'server-identity' // server_uuid / incarnation changed
  | 'state-mismatch'; // the tables are not what replaying the audited changes gives

export const FINDING_CODES = {
  LEAF_MISMATCH: 'forged-event',
  MALFORMED_EVENT: 'forged-event',
  UNQUEUED_EVENT: 'forged-event',
  SEQ_BEYOND_CHECKPOINT: 'forged-event',
  SEQ_GAP: 'missing-event',
  SEQ_ORPHAN: 'missing-event',
  PENDING_ORPHAN: 'missing-event',
  SEQ_DUPLICATE_EVENT: 'rewrite',
  BATCH_ORDER: 'reorder',
  EVENT_AFTER_SEAL: 'reorder',
  NO_GENESIS: 'rewrite',
  CHAIN_BREAK: 'rewrite',
  CHECKPOINT_HASH_MISMATCH: 'rewrite',
  ROOT_MISMATCH: 'rewrite',
  FRONTIER_MISMATCH: 'rewrite',
  FORK: 'fork',
  CHECKPOINT_ORDER: 'fork',
  CHECKPOINT_BEYOND_SEQ: 'truncation',
  ANCHOR_BEYOND_DB: 'truncation',
  ANCHOR_SHRANK: 'truncation',
  ANCHOR_ROOT_MISMATCH: 'rewrite',
  ANCHOR_CHECKPOINT_MISMATCH: 'rewrite',
  ANCHOR_NO_CHECKPOINT: 'rewrite',
  ANCHOR_INCONSISTENT: 'rewrite',
  ANCHOR_FORK: 'fork',
  UNSEALED_AGE: 'unsealed-age',
  ANCHOR_GAP: 'anchor-cadence',
  ANCHOR_SEQ_GAP: 'anchor-file',
  ANCHOR_STALE: 'anchor-stale',
  NO_ANCHORS: 'anchor-stale',
  ANCHOR_MALFORMED: 'anchor-malformed',
  ANCHOR_FILE_MISSING: 'anchor-file',
  ANCHOR_FILE_MODIFIED: 'anchor-file',
  ANCHOR_FILE_WRITABLE: 'anchor-file',
  FINGERPRINT_CHANGED: 'schema-change',
  FINGERPRINT_DRIFT: 'schema-change',
  SERVER_CHANGED: 'server-identity',
  INCARNATION_CHANGED: 'server-identity',
  STATE_MISMATCH: 'state-mismatch',
} as const satisfies Record<string, FindingKind>;

export type FindingCode = keyof typeof FINDING_CODES;

export interface Finding {
  readonly kind: FindingKind;
  readonly code: FindingCode;
  readonly message: string;
  /** Where it was seen: seq, tree size, event id, anchor file:line, table. */
  readonly at?: Readonly<Record<string, string | number>>;
}

export const kindOf = (code: FindingCode): FindingKind => FINDING_CODES[code];

/** Collects findings with a cap per code, so a cascade cannot make the report (or memory) unbounded. */
export class Findings {
  readonly list: Finding[] = [];
  readonly counts = new Map<FindingCode, number>();

  constructor(private readonly maxPerCode = 20) {}

  add(code: FindingCode, message: string, at?: Record<string, string | number>): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n <= this.maxPerCode) this.list.push({ kind: kindOf(code), code, message, ...(at ? { at } : {}) });
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  kinds(): FindingKind[] {
    return [...new Set([...this.counts.keys()].map(kindOf))].sort();
  }

  /** Counts of findings beyond the cap, per code. */
  suppressed(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [c, n] of this.counts) if (n > this.maxPerCode) out[c] = n - this.maxPerCode;
    return out;
  }
}
