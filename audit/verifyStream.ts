// The streaming verification core: pure, synchronous, fed one leaf at a time in seq
// order (with the checkpoints and anchors merged in by tree size), so memory is the
// Merkle frontier plus a few O(log n) proof accumulators, never the leaves.
//
// For every size s the stream passes it "settles" s: the checkpoint of size s is
// compared with the recomputed tree (root, frontier, chain, hash), every anchor of
// tree size s with the recomputed root and the checkpoint, and the consistency proof
// between each pair of consecutive anchors (m, n) is assembled from the frontier at m
// (the old-tree nodes are its perfect subtrees) and the ranges [a, b) ⊂ [m, n) hashed
// while the leaves between m and n go by (audit/inclusion.ts), then checked with the
// RFC 9162 algorithm against the two anchored roots.
import { checkpointHash, GENESIS_PREV } from './format';
import { CheckedEvent, EventChecks } from './eventChecks';
import { Findings, Finding, FindingKind } from './findings';
import { consistencyRanges, RangeHasher } from './inclusion';
import { Frontier, verifyConsistency } from './merkle';
import type { StoredCheckpoint, StoredEvent } from './verify';

/** One anchor, compact (the anchors are held in memory: one per minute). */
export interface AnchorPoint {
  readonly treeSize: number;
  readonly root: Buffer;
  readonly checkpointHash: Buffer;
  readonly emittedAt: string;
  readonly emittedMs: number;
  readonly serverUuid: string;
  readonly incarnation: string;
  readonly fingerprint: string;
  /** Per-host anchor counter, when the record carries one. */
  readonly anchorSeq?: number;
  readonly hostname?: string;
  readonly source: string;
  readonly line: number;
}

export interface StreamOptions {
  /** Anchors in emission order. */
  readonly anchors: readonly AnchorPoint[];
  /** Host clock for the anchor age (ms since epoch). */
  readonly nowMs: number;
  readonly maxAnchorAgeS: number;
  readonly maxAnchorGapS: number;
  /** Fingerprints the auditor has approved: a change to one of them is not a finding. */
  readonly acceptFingerprints?: readonly string[];
  readonly maxFindingsPerCode?: number;
}

export interface FinishInput {
  /** NOW(6) of the database, 'YYYY-MM-DD HH:MM:SS.ffffff'. */
  readonly dbNow?: string;
  readonly maxUnsealedAgeS: number;
  /** @@server_uuid of the database. */
  readonly serverUuid?: string;
  /** The current audit machinery fingerprint, or why it could not be read. */
  readonly fingerprint?: { readonly value?: string; readonly unavailable?: string };
  /**
   * Whether every current row was fed through stateRow(), or why the rows could not be
   * read; `alongside`: read on a second snapshot holding the same audited commits.
   */
  readonly state?: { readonly complete?: boolean; readonly unavailable?: string; readonly alongside?: boolean };
  /** audit_pending rows whose event is gone. */
  readonly pendingOrphans?: readonly string[];
  /** COUNT(*) - COUNT(DISTINCT event_id) of audit_seq. */
  readonly seqDuplicates?: number;
}

export interface VerifyStreamReport {
  readonly ok: boolean;
  readonly treeSize: number;
  readonly root: string;
  readonly sealedEvents: number;
  readonly unsealedEvents: number;
  readonly oldestUnsealed?: string;
  readonly checkpoints: number;
  readonly anchors: {
    readonly count: number;
    readonly matched: number;
    readonly consistencyProofs: number;
    readonly first?: string;
    readonly latest?: string;
    readonly latestTreeSize?: number;
  };
  readonly coverage: {
    readonly fingerprint: string;
    readonly state: string;
  };
  readonly kinds: FindingKind[];
  readonly findings: readonly Finding[];
  readonly findingCount: number;
  readonly suppressed: Record<string, number>;
}

interface Pair {
  readonly from: AnchorPoint;
  readonly to: AnchorPoint;
  /** Created when the stream reaches from.treeSize, dropped at to.treeSize. */
  hasher?: RangeHasher;
}

const hex = (b: Buffer): string => b.toString('hex');
const dtMs = (s: string): number => Date.parse(`${s.replace(' ', 'T')}Z`);
/** '2024-01-01T00:00:00.000000Z' (anchor) -> '2024-01-01 00:00:00.000000' (DB). */
export const anchorTimeToDb = (s: string): string => s.replace('T', ' ').replace(/Z$/, '');
const MAX_GAP_FILL = 1_000_000;

export class StreamVerifier {
  readonly findings: Findings;
  private readonly frontier = new Frontier();
  private readonly checks: EventChecks;
  private readonly anchorsAt = new Map<number, AnchorPoint[]>();
  private readonly pairsFrom = new Map<number, Pair[]>();
  private readonly pairsTo = new Map<number, Pair[]>();
  private active: Pair[] = [];
  private cpQueue: StoredCheckpoint[] = [];
  private checkpointAtSize?: StoredCheckpoint;
  private lastCp?: StoredCheckpoint;
  private checkpointCount = 0;
  private lastSeq = 0n;
  private sealed = 0;
  private unsealed = 0;
  private oldestUnsealed?: string;
  private batch: { lastEventId?: bigint; maxTime?: string; maxTimeEvent?: bigint; maxTimeSeq?: number } = {};
  private matched = 0;
  private proofs = 0;
  private settledSize = -1;

  constructor(private readonly opts: StreamOptions) {
    this.findings = new Findings(opts.maxFindingsPerCode ?? 20);
    this.checks = new EventChecks(this.findings);
    for (const a of opts.anchors) {
      const l = this.anchorsAt.get(a.treeSize) ?? [];
      l.push(a);
      this.anchorsAt.set(a.treeSize, l);
    }
    for (let i = 1; i < opts.anchors.length; i++) {
      const from = opts.anchors[i - 1] as AnchorPoint;
      const to = opts.anchors[i] as AnchorPoint;
      if (from.treeSize >= to.treeSize || from.treeSize === 0) continue; // equal/shrinking: anchor-sequence checks
      const p: Pair = { from, to };
      for (const [m, map] of [[from.treeSize, this.pairsFrom], [to.treeSize, this.pairsTo]] as const) {
        const l = map.get(m) ?? [];
        l.push(p);
        map.set(m, l);
      }
    }
  }

  /** A current row of a protected table (SHA-256 of its audit image), for state reconciliation. */
  stateRow(tableName: string, digest: Buffer): void {
    this.checks.stateRow(tableName, digest);
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Queue a checkpoint (in tree_size order); it is checked when the stream reaches its size. */
  checkpoint(cp: StoredCheckpoint): void {
    this.cpQueue.push(cp);
  }

  /** The next sequenced leaf: seq and its event (null when audit_seq names a missing event). */
  leaf(seq: bigint, ev: CheckedEvent | null): void {
    const expected = this.lastSeq + 1n;
    if (seq !== expected) {
      this.findings.add('SEQ_GAP', seq > expected ? `seq ${expected}..${seq - 1n} missing` : `seq ${seq} after ${this.lastSeq}`, { seq: String(seq) });
      if (seq > expected && seq - expected <= BigInt(MAX_GAP_FILL)) {
        for (let s = expected; s < seq; s++) this.append(Buffer.alloc(32));
      }
    }
    this.lastSeq = seq;
    this.settle(); // checkpoints at the current size close the previous seal batch first
    if (!ev) {
      this.findings.add('SEQ_ORPHAN', `seq ${seq} names an event that does not exist`, { seq: String(seq) });
      this.append(Buffer.alloc(32));
      return;
    }
    this.sealed++;
    this.checks.event(ev); // leaf hash, image shapes, state replay
    const b = this.batch;
    if (b.lastEventId !== undefined && ev.eventId <= b.lastEventId) {
      this.findings.add('BATCH_ORDER', `seq ${seq} (event ${ev.eventId}) follows event ${b.lastEventId} in one seal batch: the sealer orders a batch by event_id`, { seq: String(seq), event: String(ev.eventId) });
    }
    b.lastEventId = ev.eventId;
    if (b.maxTime === undefined || ev.eventTime > b.maxTime) { b.maxTime = ev.eventTime; b.maxTimeEvent = ev.eventId; b.maxTimeSeq = Number(seq); }
    this.append(ev.leafHash);
  }

  /** An event without a seq (queued: it is in audit_pending). */
  unsealedEvent(ev: CheckedEvent, queued: boolean): void {
    this.unsealed++;
    this.checks.event(ev); // leaf hash, image shapes, state replay
    if (!queued) this.findings.add('UNQUEUED_EVENT', `event ${ev.eventId} has no seq and is not queued for sealing: it was not inserted through the audit trigger path`, { event: String(ev.eventId) });
    if (this.oldestUnsealed === undefined || ev.eventTime < this.oldestUnsealed) this.oldestUnsealed = ev.eventTime;
  }

  private append(leaf: Buffer): void {
    this.settle();
    const i = this.frontier.size;
    this.frontier.append(leaf);
    for (const p of this.active) p.hasher?.push(i, leaf);
  }

  /** Checks everything attached to the current size (once per size). */
  private settle(): void {
    const s = this.frontier.size;
    if (this.settledSize === s) return;
    this.settledSize = s;
    this.checkpointAtSize = undefined;
    while (this.cpQueue.length && Number((this.cpQueue[0] as StoredCheckpoint).treeSize) <= s) {
      this.checkCheckpoint(this.cpQueue.shift() as StoredCheckpoint);
    }
    for (const a of this.anchorsAt.get(s) ?? []) this.checkAnchor(a);
    for (const p of this.pairsTo.get(s) ?? []) {
      this.active = this.active.filter((x) => x !== p);
      this.proofs++;
      const proof = (p.hasher as RangeHasher).proof();
      p.hasher = undefined;
      if (!verifyConsistency(p.from.treeSize, p.to.treeSize, p.from.root, p.to.root, proof)) {
        this.findings.add('ANCHOR_INCONSISTENT', `no consistency proof from the database's leaves takes anchor ${p.from.emittedAt} (size ${p.from.treeSize}) to anchor ${p.to.emittedAt} (size ${p.to.treeSize}): history changed between them`, { anchor: `${p.to.source}:${p.to.line}`, tree_size: p.to.treeSize });
      }
    }
    this.pairsTo.delete(s);
    for (const p of this.pairsFrom.get(s) ?? []) {
      p.hasher = new RangeHasher(consistencyRanges(p.from.treeSize, p.to.treeSize));
      p.hasher.fromFrontier(this.frontier);
      this.active.push(p);
    }
    this.pairsFrom.delete(s);
  }

  private checkCheckpoint(c: StoredCheckpoint): void {
    const size = Number(c.treeSize);
    this.checkpointCount++;
    const prev = this.lastCp;
    if (!prev) {
      if (c.treeSize !== 0n || !c.prevCheckpointHash.equals(GENESIS_PREV)) this.findings.add('NO_GENESIS', `the first checkpoint (size ${c.treeSize}) is not the genesis (size 0, prev = 32 zero bytes)`);
    } else {
      if (c.treeSize <= prev.treeSize) this.findings.add('CHECKPOINT_ORDER', `checkpoint sizes not increasing at ${c.treeSize}`, { tree_size: size });
      if (c.prevCheckpointHash.equals(prev.prevCheckpointHash)) this.findings.add('FORK', `checkpoints ${prev.treeSize} and ${c.treeSize} extend the same predecessor`, { tree_size: size });
      else if (!c.prevCheckpointHash.equals(prev.checkpointHash)) this.findings.add('CHAIN_BREAK', `checkpoint ${c.treeSize}: prev_checkpoint_hash is not the hash of checkpoint ${prev.treeSize}`, { tree_size: size });
    }
    const recomputed = checkpointHash(c);
    if (!recomputed.equals(c.checkpointHash)) this.findings.add('CHECKPOINT_HASH_MISMATCH', `checkpoint ${c.treeSize}: stored hash ${hex(c.checkpointHash)} != recomputed ${hex(recomputed)}`, { tree_size: size });
    if (size === this.frontier.size) {
      const root = this.frontier.root();
      if (!root.equals(c.root)) this.findings.add('ROOT_MISMATCH', `checkpoint ${c.treeSize}: stored root ${hex(c.root)} != recomputed ${hex(root)}`, { tree_size: size });
      if (!this.frontier.toBlob().equals(c.frontier)) this.findings.add('FRONTIER_MISMATCH', `checkpoint ${c.treeSize}: stored frontier differs from the recomputed one`, { tree_size: size });
      this.checkpointAtSize = c;
    }
    const b = this.batch;
    if (b.maxTime !== undefined && b.maxTime >= c.sealedAt) {
      this.findings.add('EVENT_AFTER_SEAL', `event ${b.maxTimeEvent} (seq ${b.maxTimeSeq}, ${b.maxTime}) is covered by checkpoint ${c.treeSize} sealed earlier (${c.sealedAt}): it was moved into an older checkpoint`, { seq: b.maxTimeSeq ?? 0, tree_size: size });
    }
    this.batch = {};
    this.lastCp = c;
  }

  private checkAnchor(a: AnchorPoint): void {
    const at = { anchor: `${a.source}:${a.line}`, tree_size: a.treeSize };
    const root = this.frontier.root();
    let ok = true;
    if (!root.equals(a.root)) {
      ok = false;
      this.findings.add('ANCHOR_ROOT_MISMATCH', `anchor ${a.emittedAt} holds root ${hex(a.root)} for size ${a.treeSize}; the database's leaves give ${hex(root)} (the log was rewritten, or the anchor line edited)`, at);
    }
    const cp = this.checkpointAtSize;
    if (!cp) {
      ok = false;
      this.findings.add('ANCHOR_NO_CHECKPOINT', `anchor ${a.emittedAt} names tree size ${a.treeSize}, which has no checkpoint in the database`, at);
    } else if (!cp.checkpointHash.equals(a.checkpointHash) || !cp.root.equals(a.root)) {
      ok = false;
      this.findings.add('ANCHOR_CHECKPOINT_MISMATCH', `anchor ${a.emittedAt}: checkpoint ${a.treeSize} in the database has hash ${hex(cp.checkpointHash)}, anchored ${hex(a.checkpointHash)}`, at);
    }
    if (ok) this.matched++;
  }

  /** Checks on the anchors alone: cadence, age, identity, fingerprint, growth. */
  private anchorSequence(input: FinishInput): void {
    const as = this.opts.anchors;
    const accepted = new Set(this.opts.acceptFingerprints ?? []);
    if (as.length === 0) {
      this.findings.add('NO_ANCHORS', 'the anchor source holds no anchor: nothing outside the database vouches for the log');
      return;
    }
    for (let i = 1; i < as.length; i++) {
      const p = as[i - 1] as AnchorPoint;
      const a = as[i] as AnchorPoint;
      const at = { anchor: `${a.source}:${a.line}`, tree_size: a.treeSize };
      const gap = (a.emittedMs - p.emittedMs) / 1000;
      if (gap > this.opts.maxAnchorGapS) this.findings.add('ANCHOR_GAP', `${gap.toFixed(0)} s between anchors ${p.emittedAt} and ${a.emittedAt} (bound ${this.opts.maxAnchorGapS} s)`, at);
      if (a.treeSize < p.treeSize) this.findings.add('ANCHOR_SHRANK', `anchor ${a.emittedAt} has tree size ${a.treeSize}, the one before ${p.treeSize}: the anchored log shrank`, at);
      else if (a.treeSize === p.treeSize && !a.root.equals(p.root)) this.findings.add('ANCHOR_FORK', `anchors ${p.emittedAt} and ${a.emittedAt} hold different roots for size ${a.treeSize}`, at);
      if (a.fingerprint !== p.fingerprint && !accepted.has(a.fingerprint)) this.findings.add('FINGERPRINT_CHANGED', `the audit machinery fingerprint changed between anchors ${p.emittedAt} and ${a.emittedAt} (${p.fingerprint.slice(0, 16)}… -> ${a.fingerprint.slice(0, 16)}…)`, at);
      if (a.anchorSeq !== undefined && p.anchorSeq !== undefined && a.hostname === p.hostname && a.anchorSeq !== p.anchorSeq + 1) {
        const what = a.anchorSeq > p.anchorSeq + 1 ? `${a.anchorSeq - p.anchorSeq - 1} anchor(s) missing` : 'counter went backwards (replayed or reordered anchor)';
        this.findings.add('ANCHOR_SEQ_GAP', `anchor_seq ${p.anchorSeq} -> ${a.anchorSeq} between ${p.emittedAt} and ${a.emittedAt}: ${what}`, at);
      }
      if (a.serverUuid !== p.serverUuid) this.findings.add('SERVER_CHANGED', `server_uuid changed between anchors ${p.emittedAt} and ${a.emittedAt} (${p.serverUuid} -> ${a.serverUuid})`, at);
      else if (a.incarnation !== p.incarnation && p.incarnation !== '' && a.incarnation !== '') this.findings.add('INCARNATION_CHANGED', `incarnation changed between anchors ${p.emittedAt} and ${a.emittedAt} (${p.incarnation} -> ${a.incarnation}): the server restarted`, at);
    }
    const latest = as[as.length - 1] as AnchorPoint;
    const age = (this.opts.nowMs - latest.emittedMs) / 1000;
    if (age > this.opts.maxAnchorAgeS) this.findings.add('ANCHOR_STALE', `the latest anchor (${latest.emittedAt}) is ${age.toFixed(0)} s old (bound ${this.opts.maxAnchorAgeS} s): the anchor service is not running or its lines do not arrive`, { anchor: `${latest.source}:${latest.line}` });
    if (input.serverUuid && latest.serverUuid !== input.serverUuid) this.findings.add('SERVER_CHANGED', `the latest anchor comes from server ${latest.serverUuid}, the database is ${input.serverUuid}`);
    const fp = input.fingerprint?.value;
    if (fp && fp !== latest.fingerprint && !accepted.has(fp)) this.findings.add('FINGERPRINT_DRIFT', `the audit machinery fingerprint now is ${fp.slice(0, 16)}…, the latest anchor holds ${latest.fingerprint.slice(0, 16)}…`);
  }

  finish(input: FinishInput): VerifyStreamReport {
    this.settle();
    const size = this.frontier.size;
    for (const c of this.cpQueue) this.findings.add('CHECKPOINT_BEYOND_SEQ', `checkpoint ${c.treeSize} covers more leaves than the ${size} in the database: the tail was removed`, { tree_size: Number(c.treeSize) });
    if (this.lastCp && BigInt(size) > this.lastCp.treeSize) this.findings.add('SEQ_BEYOND_CHECKPOINT', `seq ${this.lastCp.treeSize + 1n}..${size} were sequenced outside any checkpoint: not by the sealer`, { seq: String(this.lastCp.treeSize + 1n) });
    if (!this.lastCp) this.findings.add('NO_GENESIS', 'no checkpoint at all');
    for (const [s, list] of this.anchorsAt) {
      if (s <= size) continue;
      for (const a of list) this.findings.add('ANCHOR_BEYOND_DB', `anchor ${a.emittedAt} vouches for ${a.treeSize} leaves; the database has ${size}: the log was truncated`, { anchor: `${a.source}:${a.line}`, tree_size: a.treeSize });
    }
    this.anchorSequence(input);
    for (const id of input.pendingOrphans ?? []) this.findings.add('PENDING_ORPHAN', `event ${id} was queued for sealing and is gone`, { event: id });
    if (input.seqDuplicates) this.findings.add('SEQ_DUPLICATE_EVENT', `${input.seqDuplicates} event(s) hold more than one seq`);
    if (this.oldestUnsealed && input.dbNow) {
      const age = (dtMs(input.dbNow) - dtMs(this.oldestUnsealed)) / 1000;
      if (age > input.maxUnsealedAgeS) this.findings.add('UNSEALED_AGE', `${this.unsealed} event(s) without a seq, the oldest from ${this.oldestUnsealed} (${age.toFixed(1)} s old, bound ${input.maxUnsealedAgeS} s): the sealer is not running`);
    }
    let stateCoverage: string;
    if (input.state?.complete) {
      const tables = this.checks.tables();
      const mismatched = tables.filter((t) => !t.equal);
      for (const t of mismatched) {
        this.findings.add('STATE_MISMATCH', `table ${t.table}: ${t.actualRows} rows whose content is not what the audited changes give (${t.expectedRows} rows expected): a change was made without its audit event`, { table: t.table });
      }
      stateCoverage = `checked ${tables.length} tables${mismatched.length ? `, ${mismatched.length} differ` : ''}${input.state.alongside ? ' (read alongside the log, same audited commits)' : ''}`;
    } else {
      stateCoverage = `not run: ${input.state?.unavailable ?? 'no state source'}`;
    }
    const latest = this.opts.anchors[this.opts.anchors.length - 1];
    return {
      ok: this.findings.total === 0,
      treeSize: size,
      root: hex(this.frontier.root()),
      sealedEvents: this.sealed,
      unsealedEvents: this.unsealed,
      ...(this.oldestUnsealed ? { oldestUnsealed: this.oldestUnsealed } : {}),
      checkpoints: this.checkpointCount,
      anchors: {
        count: this.opts.anchors.length, matched: this.matched, consistencyProofs: this.proofs,
        ...(this.opts.anchors[0] ? { first: this.opts.anchors[0].emittedAt } : {}),
        ...(latest ? { latest: latest.emittedAt, latestTreeSize: latest.treeSize } : {}),
      },
      coverage: {
        fingerprint: fingerprintCoverage(input.fingerprint, latest !== undefined),
        state: stateCoverage,
      },
      kinds: this.findings.kinds(),
      findings: this.findings.list,
      findingCount: this.findings.total,
      suppressed: this.findings.suppressed(),
    };
  }
}


/** What the report says of the fingerprint check: read and compared, read with no anchor to compare with, or not run. */
function fingerprintCoverage(fp: FinishInput['fingerprint'], anchored: boolean): string {
  if (!fp?.value) return `not run: ${fp?.unavailable ?? 'unavailable'}`;
  return anchored ? 'current fingerprint compared with the latest anchor' : 'current fingerprint read; no anchor to compare it with';
}

/** Merges leaves (seq order) and checkpoints (size order) into the core, as the DB driver does. */
export function feedSync(core: StreamVerifier, leaves: Iterable<{ seq: bigint; event: StoredEvent | null }>, cps: Iterable<StoredCheckpoint>): void {
  const it = cps[Symbol.iterator]();
  let next = it.next();
  const feed = (upTo: bigint): void => {
    while (!next.done && next.value.treeSize <= upTo) { core.checkpoint(next.value); next = it.next(); }
  };
  feed(0n);
  for (const { seq, event } of leaves) { feed(seq); core.leaf(seq, event); }
  while (!next.done) { core.checkpoint(next.value); next = it.next(); }
}
