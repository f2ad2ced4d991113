// The minimal audit-log verifier: pure functions over the rows of audit_events,
// audit_seq and audit_checkpoints (docs/audit-log-format.md). It re-hashes every
// event from its stored content, checks that seq is 1..n without gaps, rebuilds the
// RFC 6962 tree leaf by leaf and compares every checkpoint's root, frontier and
// chained checkpoint hash. Anchors (WORM) come later.
import {
  checkpointHash, CheckpointRow, decodeImage, eventLeafHash, EventRow, GENESIS_PREV,
} from './format';
import { Frontier } from './merkle';

export interface StoredEvent extends EventRow {
  readonly eventId: bigint;
  readonly leafHash: Buffer;
}

export interface StoredSeq {
  readonly seq: bigint;
  readonly eventId: bigint;
}

export interface StoredCheckpoint extends CheckpointRow {
  readonly frontier: Buffer;
}

export interface AuditRows {
  readonly events: readonly StoredEvent[];
  readonly seq: readonly StoredSeq[];
  readonly checkpoints: readonly StoredCheckpoint[];
}

export type FindingCode =
  | 'LEAF_MISMATCH' | 'MALFORMED_EVENT' | 'SEQ_GAP' | 'SEQ_ORPHAN' | 'SEQ_DUPLICATE_EVENT'
  | 'NO_GENESIS' | 'CHAIN_BREAK' | 'FORK' | 'CHECKPOINT_HASH_MISMATCH' | 'ROOT_MISMATCH' | 'FRONTIER_MISMATCH'
  | 'CHECKPOINT_BEYOND_SEQ' | 'SEQ_BEYOND_CHECKPOINT' | 'CHECKPOINT_ORDER';

export interface Finding {
  readonly code: FindingCode;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly sealed: number;
  readonly unsealed: number;
  /** event_time of the oldest event without a seq, if any. */
  readonly oldestUnsealed?: string;
  readonly treeSize: number;
  readonly checkpoints: number;
  readonly root?: string;
  readonly findings: readonly Finding[];
}

const MAX_FINDINGS_PER_CODE = 20;

export function verifyAuditLog(rows: AuditRows): VerifyReport {
  const findings: Finding[] = [];
  const perCode = new Map<string, number>();
  const add = (code: FindingCode, message: string): void => {
    const n = (perCode.get(code) ?? 0) + 1;
    perCode.set(code, n);
    if (n <= MAX_FINDINGS_PER_CODE) findings.push({ code, message });
    else if (n === MAX_FINDINGS_PER_CODE + 1) findings.push({ code, message: `further ${code} findings suppressed` });
  };

  // 1. every event re-hashed from its content; images must decode.
  const byId = new Map<bigint, StoredEvent>();
  for (const e of rows.events) {
    byId.set(e.eventId, e);
    let computed: Buffer;
    try {
      computed = eventLeafHash(e);
      decodeImage(e.pkImage);
      if (e.beforeImage) decodeImage(e.beforeImage);
      if (e.afterImage) decodeImage(e.afterImage);
    } catch (err) {
      add('MALFORMED_EVENT', `event ${e.eventId}: ${(err as Error).message}`);
      continue;
    }
    if (!computed.equals(e.leafHash)) add('LEAF_MISMATCH', `event ${e.eventId}: stored leaf ${e.leafHash.toString('hex')} != recomputed ${computed.toString('hex')}`);
  }

  // 2. seq is 1..n, each naming a distinct existing event.
  const seq = [...rows.seq].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  const sealedIds = new Set<bigint>();
  const leaves: Buffer[] = [];
  seq.forEach((s, i) => {
    if (s.seq !== BigInt(i + 1)) add('SEQ_GAP', `position ${i + 1} holds seq ${s.seq}`);
    if (sealedIds.has(s.eventId)) add('SEQ_DUPLICATE_EVENT', `event ${s.eventId} sequenced twice`);
    sealedIds.add(s.eventId);
    const e = byId.get(s.eventId);
    if (!e) {
      add('SEQ_ORPHAN', `seq ${s.seq} names missing event ${s.eventId}`);
      leaves.push(Buffer.alloc(32));
    } else {
      leaves.push(e.leafHash);
    }
  });
  const unsealedEvents = rows.events.filter((e) => !sealedIds.has(e.eventId));
  const oldestUnsealed = unsealedEvents.map((e) => e.eventTime).sort()[0];

  // 3. checkpoints: genesis, chain, hashes, roots and frontiers, no forks.
  const cps = [...rows.checkpoints].sort((a, b) => (a.treeSize < b.treeSize ? -1 : a.treeSize > b.treeSize ? 1 : 0));
  const prevSeen = new Map<string, bigint>();
  for (const c of cps) {
    const k = c.prevCheckpointHash.toString('hex');
    if (prevSeen.has(k)) add('FORK', `checkpoints ${prevSeen.get(k)} and ${c.treeSize} extend the same predecessor`);
    prevSeen.set(k, c.treeSize);
  }
  const first = cps[0];
  if (!first || first.treeSize !== 0n || !first.prevCheckpointHash.equals(GENESIS_PREV)) add('NO_GENESIS', 'the first checkpoint is not the genesis (size 0, prev = 32 zero bytes)');
  const frontier = new Frontier();
  let prevHash: Buffer | undefined;
  let prevSize = -1n;
  for (const c of cps) {
    if (c.treeSize <= prevSize) add('CHECKPOINT_ORDER', `checkpoint sizes not increasing at ${c.treeSize}`);
    if (prevHash && !c.prevCheckpointHash.equals(prevHash)) add('CHAIN_BREAK', `checkpoint ${c.treeSize}: prev_checkpoint_hash does not match checkpoint ${prevSize}`);
    const recomputed = checkpointHash(c);
    if (!recomputed.equals(c.checkpointHash)) add('CHECKPOINT_HASH_MISMATCH', `checkpoint ${c.treeSize}: stored ${c.checkpointHash.toString('hex')} != recomputed ${recomputed.toString('hex')}`);
    if (c.treeSize > BigInt(leaves.length)) {
      add('CHECKPOINT_BEYOND_SEQ', `checkpoint ${c.treeSize} covers more leaves than the ${leaves.length} sequenced`);
    } else {
      while (frontier.size < Number(c.treeSize)) frontier.append(leaves[frontier.size] as Buffer);
      if (!frontier.root().equals(c.root)) add('ROOT_MISMATCH', `checkpoint ${c.treeSize}: stored root ${c.root.toString('hex')} != recomputed ${frontier.root().toString('hex')}`);
      if (!frontier.toBlob().equals(c.frontier)) add('FRONTIER_MISMATCH', `checkpoint ${c.treeSize}: stored frontier differs from the recomputed one`);
    }
    prevHash = c.checkpointHash;
    prevSize = c.treeSize;
  }
  const last = cps[cps.length - 1];
  if (last && BigInt(leaves.length) > last.treeSize) add('SEQ_BEYOND_CHECKPOINT', `${leaves.length} events sequenced but the last checkpoint covers ${last.treeSize}`);

  return {
    ok: findings.length === 0,
    events: rows.events.length,
    sealed: sealedIds.size,
    unsealed: unsealedEvents.length,
    oldestUnsealed,
    treeSize: last ? Number(last.treeSize) : 0,
    checkpoints: cps.length,
    root: last?.root.toString('hex'),
    findings,
  };
}
