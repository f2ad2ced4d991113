// Drives the streaming verifier from the database, as the auditor principal, inside
// one READ ONLY consistent snapshot: keyset pages of audit_seq ⋈ audit_events by seq,
// checkpoints by tree_size (merged in by size), then the unsealed events, the queue,
// the server identity, the current fingerprint and the current table state.
import type { Connection as CoreConnection } from 'mysql2';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { LoadedAnchors } from './anchors';
import { INCLUSION_PROOF_FORMAT, InclusionProofFile, inclusionRanges, proofEventOf, RangeHasher } from './inclusion';
import { Frontier } from './merkle';
import type { StoredCheckpoint, StoredEvent } from './verify';
import { STATE_PROCEDURE } from './verifyState';
import type { AnchorPoint, VerifyStreamReport } from './verifyStream';
import { LocalVerifier, ThreadVerifier, VerifierRun } from './verifyThread';
import { ANCHOR_SNAPSHOT_PROCEDURE } from '../sql/anchorSnapshot';

export interface VerifyOptions {
  readonly maxUnsealedAgeS: number;
  readonly maxAnchorAgeS: number;
  readonly maxAnchorGapS: number;
  readonly acceptFingerprints?: readonly string[];
  readonly pageSize?: number;
  readonly nowMs?: number;
  /** Run the verification in a worker thread while this one reads rows (default true). */
  readonly checkThread?: boolean;
}

export const DEFAULTS = { maxUnsealedAgeS: 10, maxAnchorAgeS: 150, maxAnchorGapS: 90 } as const;

import { BIG, checkpointOf, DT, EVENT_COLS, eventOf, RAW_EVENT_COLS, rawEventOf, str } from './auditRows';
import type { RawEvent } from './eventChecks';

/** Keyset pages of `SELECT seq, <cols> … ORDER BY seq`, the next page asked for before this one is handed out. */
async function* seqPages<R>(conn: Connection, cols: string, pageSize: number, opts: { upTo?: number; rowsAsArray?: boolean } = {}): AsyncGenerator<R[]> {
  const { upTo, rowsAsArray = false } = opts;
  const page = (after: string): Promise<R[]> => conn.query<RowDataPacket[]>({
    sql: `SELECT s.seq AS seq_no, ${cols} FROM audit_seq s LEFT JOIN audit_events e ON e.event_id = s.event_id
      WHERE s.seq > ?${upTo !== undefined ? ' AND s.seq <= ?' : ''} ORDER BY s.seq LIMIT ${pageSize}`,
    // Raw rows take ids as numbers while they are exact (strings beyond 2^53): fewer strings to make.
    values: upTo !== undefined ? [after, upTo] : [after], rowsAsArray, supportBigNumbers: true, bigNumberStrings: !rowsAsArray,
  }).then(([rows]) => rows as unknown as R[]);
  // The server reads and sends the next page while the caller works through this one.
  let next = page('0');
  for (;;) {
    const rows = await next;
    const full = rows.length === pageSize;
    if (full) {
      const last = rows[rows.length - 1] as unknown;
      next = page(String(Array.isArray(last) ? last[0] : (last as RowDataPacket).seq_no));
      next.catch(() => undefined); // seen by the await above, or irrelevant once the caller stopped
    }
    yield rows;
    if (!full) return;
  }
}

/** Sequenced leaves (seq > 0, seq <= upTo) with their events decoded; event is null when audit_seq names a missing event. */
export async function* sequencedLeaves(conn: Connection, pageSize = 5000, upTo?: number): AsyncGenerator<{ seq: bigint; event: StoredEvent | null }> {
  for await (const rows of seqPages<RowDataPacket>(conn, EVENT_COLS, pageSize, { upTo })) {
    for (const r of rows) yield { seq: BigInt(r.seq_no as string), event: r.event_id === null ? null : eventOf(r) };
  }
}

/** The same leaves with the event fields as raw bytes (what the verifier packs and hashes). */
export async function* sequencedRawLeaves(conn: Connection, pageSize = 5000): AsyncGenerator<{ seq: bigint; event: RawEvent | null }> {
  for await (const rows of seqPages<unknown[]>(conn, RAW_EVENT_COLS, pageSize, { rowsAsArray: true })) {
    for (const r of rows) yield { seq: BigInt(r[0] as number | string), event: r[1] === null ? null : rawEventOf(r) };
  }
}

async function* checkpoints(conn: Connection, pageSize = 1000): AsyncGenerator<StoredCheckpoint> {
  let after: string | null = null;
  for (;;) {
    const [rows]: [RowDataPacket[], unknown] = await conn.query<RowDataPacket[]>({
      sql: `SELECT tree_size, root, prev_checkpoint_hash, checkpoint_hash, ${DT('sealed_at')}, incarnation, frontier
        FROM audit_checkpoints ${after === null ? '' : 'WHERE tree_size > ?'} ORDER BY tree_size LIMIT ${pageSize}`,
      values: after === null ? [] : [after], ...BIG,
    });
    for (const r of rows) yield checkpointOf(r);
    if (rows.length < pageSize) return;
    after = String(rows[rows.length - 1]?.tree_size);
  }
}

async function* unsealedEvents(conn: Connection, pageSize = 5000, from = '0'): AsyncGenerator<{ event: StoredEvent; queued: boolean }> {
  let after = from;
  for (;;) {
    const [rows] = await conn.query<RowDataPacket[]>({
      sql: `SELECT ${EVENT_COLS}, p.event_id IS NOT NULL AS queued FROM audit_events e
        LEFT JOIN audit_seq s ON s.event_id = e.event_id LEFT JOIN audit_pending p ON p.event_id = e.event_id
        WHERE s.seq IS NULL AND e.event_id > ? ORDER BY e.event_id LIMIT ${pageSize}`,
      values: [after], ...BIG,
    });
    for (const r of rows) yield { event: eventOf(r), queued: Number(r.queued) === 1 };
    if (rows.length < pageSize) return;
    after = String(rows[rows.length - 1]?.event_id);
  }
}

const sqlError = (e: unknown): string => {
  const err = e as { code?: string; message?: string };
  return `${err.code ?? 'error'}: ${err.message ?? String(e)}`;
};

/** The audit machinery fingerprint now, through the anchor's definer procedure (needs EXECUTE). */
async function currentFingerprint(conn: Connection, database: string): Promise<{ value?: string; unavailable?: string }> {
  try {
    const [res] = await conn.query({ sql: `CALL \`${database}\`.${ANCHOR_SNAPSHOT_PROCEDURE}()`, rowsAsArray: true });
    const row = (res as unknown as unknown[][][])[0]?.[0];
    const fp = row ? str(row[6]) : '';
    return /^[0-9a-f]{64}$/.test(fp) ? { value: fp } : { unavailable: `${ANCHOR_SNAPSHOT_PROCEDURE} returned no fingerprint` };
  } catch (e) {
    return { unavailable: `the auditor cannot CALL ${ANCHOR_SNAPSHOT_PROCEDURE} (${sqlError(e)})` };
  }
}

/** Streams the digest of every current protected row into the core (needs EXECUTE on the definer procedure). */
async function currentState(conn: Connection, database: string, core: VerifierRun): Promise<{ complete?: boolean; unavailable?: string }> {
  try {
    await new Promise<void>((resolve, reject) => {
      const raw = (conn as unknown as { connection: CoreConnection }).connection;
      const q = raw.query(`CALL \`${database}\`.${STATE_PROCEDURE}()`);
      let n = 0;
      q.on('result', (row: unknown) => {
        const r = row as { table_name?: unknown; digest?: unknown };
        if (r.table_name === undefined || !Buffer.isBuffer(r.digest)) return; // the trailing OK packet
        core.stateRow(str(r.table_name), r.digest);
        if ((++n & 1023) === 0) {
          // Backpressure: stop reading while the verifier thread has enough queued.
          raw.pause();
          core.ready().then(() => raw.resume(), reject);
        }
      });
      q.on('error', reject);
      q.on('end', () => resolve());
    });
    return { complete: true };
  } catch (e) {
    return { unavailable: `the auditor cannot CALL ${STATE_PROCEDURE} (${sqlError(e)})` };
  }
}

/**
 * Events holding more than one seq. A UNIQUE index on audit_seq(event_id) rules them
 * out (InnoDB refuses the duplicate, and refuses to build the index over one), so with
 * the index in place nothing is counted; without it, COUNT - COUNT(DISTINCT).
 */
async function seqDuplicates(conn: Connection, database: string): Promise<number> {
  const [unique] = await conn.query<RowDataPacket[]>({
    sql: `SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'audit_seq' AND NON_UNIQUE = 0
      GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = 'event_id' AND MAX(SUB_PART) IS NULL`,
    values: [database],
  });
  if (unique.length > 0) return 0;
  const [[dup]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) - COUNT(DISTINCT event_id) AS d FROM audit_seq');
  return Number(dup?.d ?? 0);
}

async function inSnapshot<T>(conn: Connection, f: () => Promise<T>): Promise<T> {
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  try {
    return await f();
  } finally {
    await conn.query('COMMIT');
  }
}

/** The full verification: DB stream + anchors + state. */
export async function verifyDeployment(conn: Connection, database: string, loaded: LoadedAnchors, opts: VerifyOptions): Promise<VerifyStreamReport> {
  const coreOpts = {
    anchors: loaded.anchors, nowMs: opts.nowMs ?? Date.now(),
    maxAnchorAgeS: opts.maxAnchorAgeS, maxAnchorGapS: opts.maxAnchorGapS, acceptFingerprints: opts.acceptFingerprints,
  };
  const core: VerifierRun = opts.checkThread === false ? new LocalVerifier(coreOpts, loaded.problems) : new ThreadVerifier(coreOpts, loaded.problems);
  try {
    return await inSnapshot(conn, async () => {
      const cps = checkpoints(conn);
      let next = await cps.next();
      const feed = async (upTo: bigint): Promise<void> => {
        while (!next.done && next.value.treeSize <= upTo) {
          core.checkpoint(next.value);
          next = await cps.next();
        }
      };
      await feed(0n);
      let n = 0;
      let sealed = 0;
      let maxSealed = 0n;
      for await (const { seq, event } of sequencedRawLeaves(conn, opts.pageSize)) {
        await feed(seq);
        core.leaf(seq, event);
        if (event) {
          sealed++;
          if (event.eventId > maxSealed) maxSealed = event.eventId;
        }
        if ((++n & 1023) === 0) {
          await core.ready();
          // A macrotask turn lets the socket be read, so the server keeps sending the
          // prefetched page instead of stalling on a full buffer while this one is packed.
          await new Promise(setImmediate);
        }
      }
      // Checkpoints beyond the leaves: queued, reported as truncation at finish.
      while (!next.done) { core.checkpoint(next.value); next = await cps.next(); }
      const duplicates = await seqDuplicates(conn, database);
      // Unsealed events: normally only the newest, above every sealed event_id, which a
      // range read finds. Any other (an event skipped by the sealer, or inserted with an
      // old id) makes the count of events up to that id exceed the sealed ones, and
      // then every event is anti-joined with audit_seq (three times the server work).
      // With no duplicate seq, `sealed` distinct ids up to maxSealed that number
      // maxSealed are exactly 1..maxSealed: no room for another event, nothing to count.
      const noDuplicates = duplicates === 0;
      let onlyTail = noDuplicates && BigInt(sealed) === maxSealed;
      if (noDuplicates && !onlyTail) {
        const [[upTo]] = await conn.query<RowDataPacket[]>({ sql: 'SELECT COUNT(*) AS n FROM audit_events WHERE event_id <= ?', values: [String(maxSealed)], ...BIG });
        onlyTail = Number(upTo?.n ?? -1) === sealed;
      }
      for await (const { event, queued } of unsealedEvents(conn, opts.pageSize, onlyTail ? String(maxSealed) : '0')) {
        core.unsealedEvent(event, queued);
        if ((++n & 1023) === 0) await core.ready();
      }
      const [[info]] = await conn.query<RowDataPacket[]>(`SELECT ${DT('NOW(6)', 'now')}, @@server_uuid AS uuid`);
      const [orphans] = await conn.query<RowDataPacket[]>({
        sql: 'SELECT p.event_id FROM audit_pending p LEFT JOIN audit_events e ON e.event_id = p.event_id WHERE e.event_id IS NULL ORDER BY p.event_id LIMIT 100', ...BIG,
      });
      const fingerprint = await currentFingerprint(conn, database);
      const state = await currentState(conn, database, core);
      return await core.finish({
        dbNow: str(info?.now), maxUnsealedAgeS: opts.maxUnsealedAgeS, serverUuid: str(info?.uuid),
        fingerprint, state, pendingOrphans: orphans.map((r) => String(r.event_id)), seqDuplicates: duplicates,
      });
    });
  } finally {
    core.close();
  }
}

export class ProofError extends Error {}

/**
 * An inclusion proof for one event against the latest anchor covering it: the leaf
 * index from audit_seq, the audit path hashed range by range while the leaves stream
 * by, and the root checked against the anchored root before it is handed out.
 */
export async function buildInclusionProof(conn: Connection, anchors: readonly AnchorPoint[], eventId: string): Promise<InclusionProofFile> {
  if (!/^\d+$/.test(eventId)) throw new ProofError(`event id ${JSON.stringify(eventId)} is not a number`);
  return inSnapshot(conn, async () => {
    const [rows] = await conn.query<RowDataPacket[]>({
      sql: `SELECT s.seq AS seq_no, ${EVENT_COLS} FROM audit_events e LEFT JOIN audit_seq s ON s.event_id = e.event_id WHERE e.event_id = ?`,
      values: [eventId], ...BIG,
    });
    const r = rows[0];
    if (!r) throw new ProofError(`no event ${eventId}`);
    if (r.seq_no === null) throw new ProofError(`event ${eventId} is not sealed yet`);
    const seq = Number(r.seq_no);
    const event = eventOf(r);
    const anchor = [...anchors].reverse().find((a) => a.treeSize >= seq);
    if (!anchor) throw new ProofError(`event ${eventId} (seq ${seq}) is not covered by an anchor yet; retry after the next anchor`);
    const n = anchor.treeSize;
    const hasher = new RangeHasher(inclusionRanges(seq - 1, n));
    const frontier = new Frontier();
    let leaf: Buffer | undefined;
    for await (const l of sequencedLeaves(conn, 5000, n)) {
      if (Number(l.seq) !== frontier.size + 1) throw new ProofError(`audit_seq is not contiguous at ${l.seq}; run ztmysql verify`);
      const h = l.event?.leafHash ?? Buffer.alloc(32);
      if (Number(l.seq) === seq) leaf = h;
      hasher.push(frontier.size, h);
      frontier.append(h);
    }
    if (frontier.size !== n || !leaf) throw new ProofError(`the database has ${frontier.size} leaves, the anchor ${n}; run ztmysql verify`);
    if (!frontier.root().equals(anchor.root)) throw new ProofError(`the database's tree of ${n} leaves does not have the anchored root; run ztmysql verify`);
    return {
      format: INCLUSION_PROOF_FORMAT,
      event_id: eventId,
      seq,
      leaf_index: seq - 1,
      leaf_hash: leaf.toString('hex'),
      tree_size: n,
      root: anchor.root.toString('hex'),
      audit_path: hasher.proof().map((b) => b.toString('hex')),
      anchor: { emitted_at: anchor.emittedAt, checkpoint_hash: anchor.checkpointHash.toString('hex'), source: anchor.source, line: anchor.line },
      event: proofEventOf(event),
    };
  });
}
