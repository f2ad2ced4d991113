// Drives the streaming verifier from the database, as the auditor principal, inside
// one READ ONLY consistent snapshot: audit_seq ⋈ audit_events by seq ranges, each row
// handed to the verifier as the bytes the server sent (audit/wireRows.ts), checkpoints
// by tree_size (merged in by size), then the unsealed events, the queue, the server
// identity, the current fingerprint and the current table state.
import type { Connection as CoreConnection } from 'mysql2';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { LoadedAnchors } from './anchors';
import { INCLUSION_PROOF_FORMAT, InclusionProofFile, inclusionRanges, proofEventOf, RangeHasher } from './inclusion';
import { Frontier } from './merkle';
import type { StoredCheckpoint, StoredEvent } from './verify';
import { STATE_PROCEDURE } from '../sql/stateDigests';
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
  /**
   * Opens a second auditor connection for the current-state digests, read while the
   * log streams when its snapshot provably holds the same audited commits (see
   * stateAlongside), else after the log on the first connection. Closed here.
   */
  readonly stateConnection?: () => Promise<Connection>;
  /** Told where the run is: at each phase, and about once a second while the log streams. */
  readonly onProgress?: (p: VerifyProgress) => void;
}

export interface VerifyProgress {
  readonly phase: 'log' | 'unsealed' | 'state' | 'checks';
  /** Sequenced leaves read so far. */
  readonly leaves: number;
  readonly elapsedMs: number;
}

export const DEFAULTS = { maxUnsealedAgeS: 10, maxAnchorAgeS: 150, maxAnchorGapS: 90 } as const;

import { BIG, checkpointOf, DT, EVENT_COLS, eventOf, RAW_EVENT_COLS, str } from './auditRows';

/** Keyset pages of `SELECT seq, <cols> … ORDER BY seq` (decoded rows), the next page asked for before this one is handed out. */
async function* seqPages(conn: Connection, cols: string, pageSize: number, upTo?: number): AsyncGenerator<RowDataPacket[]> {
  const page = (after: string): Promise<RowDataPacket[]> => conn.query<RowDataPacket[]>({
    sql: `SELECT s.seq AS seq_no, ${cols} FROM audit_seq s LEFT JOIN audit_events e ON e.event_id = s.event_id
      WHERE s.seq > ?${upTo !== undefined ? ' AND s.seq <= ?' : ''} ORDER BY s.seq LIMIT ${pageSize}`,
    values: upTo !== undefined ? [after, upTo] : [after], ...BIG,
  }).then(([rows]) => rows);
  // The server reads and sends the next page while the caller works through this one.
  let next = page('0');
  for (;;) {
    const rows = await next;
    const full = rows.length === pageSize;
    if (full) {
      next = page(String((rows[rows.length - 1] as RowDataPacket).seq_no));
      next.catch(() => undefined); // seen by the await above, or irrelevant once the caller stopped
    }
    yield rows;
    if (!full) return;
  }
}

/** Sequenced leaves (seq > 0, seq <= upTo) with their events decoded; event is null when audit_seq names a missing event. */
export async function* sequencedLeaves(conn: Connection, pageSize = 5000, upTo?: number): AsyncGenerator<{ seq: bigint; event: StoredEvent | null }> {
  for await (const rows of seqPages(conn, EVENT_COLS, pageSize, upTo)) {
    for (const r of rows) yield { seq: BigInt(r.seq_no as string), event: r.event_id === null ? null : eventOf(r) };
  }
}

/** Takes each row as the server sent it; returning a promise holds further rows (the socket is paused) until it settles. */
export type WireRowSink = (row: Buffer, start: number, end: number) => Promise<void> | void;

const WIRE_ROW = Symbol('row handed over as bytes');

/** Stops reading the connection's socket until `until` settles (the verifier thread catches up). */
function holdReads(raw: CoreConnection, until: Promise<void>, onError: (e: unknown) => void): void {
  raw.pause();
  until.catch(onError).finally(() => raw.resume());
}

/**
 * Runs one query and hands every row's text-protocol payload to `sink` as it arrives,
 * before the driver decodes a single value. mysql2 has no public raw-row mode, so its
 * query's row parser is replaced (the `_rowParser` slot, mysql2 3.x); if a driver
 * version no longer uses it, rows arrive decoded and the query fails with that said.
 */
export function wireQuery(conn: Connection, sql: string, values: unknown[], sink: WireRowSink): Promise<number> {
  const raw = (conn as unknown as { connection: CoreConnection }).connection;
  return new Promise<number>((resolve, reject) => {
    let rows = 0;
    let failure: Error | undefined;
    const fail = (e: unknown): void => { failure ??= e instanceof Error ? e : new Error(String(e)); };
    const parser = {
      next(packet: { buffer: Buffer; offset: number; end: number }): symbol {
        rows++;
        if (failure) return WIRE_ROW; // drained after a failure: the query must still end
        try {
          const wait = sink(packet.buffer, packet.offset, packet.end);
          if (wait) holdReads(raw, wait, fail);
        } catch (e) {
          fail(e);
        }
        return WIRE_ROW;
      },
    };
    const q = raw.query({ sql, values });
    Object.defineProperty(q, '_rowParser', { configurable: true, get: () => parser, set: () => undefined });
    q.on('result', (row: unknown) => {
      if (row !== WIRE_ROW) fail(new Error('the MySQL driver decoded a row instead of handing over its bytes: this mysql2 version is not supported by audit/verifyDb.ts'));
    });
    // A server error is followed by 'end'; a lost connection may not be: settle on either.
    q.on('error', (e: Error) => { fail(e); reject(failure); });
    q.on('end', () => (failure ? reject(failure) : resolve(rows)));
  });
}

/**
 * Every sequenced leaf row (`s.seq, RAW_EVENT_COLS`) in seq order, by seq ranges
 * (lo, lo + pageSize]: the largest seq a page can hold is known before it is asked for,
 * so `beforePage(hi)` can merge in the checkpoints up to it. Past a short page the next
 * range starts at the next seq there is (a gap costs one query, not a page per range).
 */
export async function wireLeafPages(conn: Connection, pageSize: number, beforePage: (hi: bigint) => Promise<void>, sink: WireRowSink): Promise<void> {
  const size = BigInt(pageSize);
  let lo = 0n;
  for (;;) {
    const hi = lo + size;
    await beforePage(hi);
    const n = await wireQuery(conn, `SELECT s.seq AS seq_no, ${RAW_EVENT_COLS} FROM audit_seq s LEFT JOIN audit_events e ON e.event_id = s.event_id
      WHERE s.seq > ? AND s.seq <= ? ORDER BY s.seq`, [String(lo), String(hi)], sink);
    if (n === pageSize) { lo = hi; continue; }
    const [[next]] = await conn.query<RowDataPacket[]>({ sql: 'SELECT MIN(seq) AS s FROM audit_seq WHERE seq > ?', values: [String(hi)], ...BIG });
    if (next?.s === null || next?.s === undefined) return;
    lo = BigInt(next.s as string) - 1n;
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
      let failed = false;
      const fail = (e: unknown): void => { failed = true; reject(e); }; // the verifier failed: drain the rest, report it
      q.on('result', (row: unknown) => {
        const r = row as { table_name?: unknown; digest?: unknown };
        if (failed || r.table_name === undefined || !Buffer.isBuffer(r.digest)) return; // the trailing OK packet
        try {
          core.stateRow(str(r.table_name), r.digest);
        } catch (e) {
          fail(e);
          return;
        }
        if (core.saturated()) holdReads(raw, core.ready(), fail);
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

/**
 * What changes with every audited commit: an audited write queues its events in
 * audit_pending in its own transaction, and the sealer's commit adds seqs. Two
 * snapshots with the same mark therefore hold the same audited commits (barring an
 * attack in between, which either snapshot's checks then face alone).
 */
async function snapshotMark(conn: Connection): Promise<string> {
  const [[m]] = await conn.query<RowDataPacket[]>(`SELECT CONCAT((SELECT COALESCE(MAX(seq), 0) FROM audit_seq), ':',
    (SELECT COUNT(*) FROM audit_pending), ':', (SELECT COALESCE(MAX(event_id), 0) FROM audit_events)) AS m`);
  return str(m?.m);
}

/**
 * The current-state digests on a second connection, alongside the log: only when its
 * snapshot has the log snapshot's mark. Undefined (nothing fed) when it cannot be
 * used: the caller then reads the state after the log, on the log's own snapshot.
 */
async function stateAlongside(connecting: Promise<Connection>, mark: string, database: string, core: VerifierRun): Promise<{ complete?: boolean; unavailable?: string; alongside: true } | undefined> {
  let c: Connection;
  try {
    c = await connecting;
  } catch {
    return undefined;
  }
  try {
    await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    if ((await snapshotMark(c)) !== mark) return undefined;
    return { ...(await currentState(c, database, core)), alongside: true };
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => undefined);
  }
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
  // Connecting takes a TLS handshake: started now, used once the log's snapshot exists.
  const second = opts.stateConnection?.();
  second?.catch(() => undefined);
  let alongside: ReturnType<typeof stateAlongside> | undefined;
  try {
    return await inSnapshot(conn, async () => {
      alongside = second ? stateAlongside(second, await snapshotMark(conn), database, core) : undefined;
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
      let leaves = 0;
      let told = 0;
      const started = Date.now();
      const progress = (phase: VerifyProgress['phase']): void => {
        told = Date.now();
        opts.onProgress?.({ phase, leaves, elapsedMs: told - started });
      };
      progress('log');
      await wireLeafPages(conn, opts.pageSize ?? 5000, feed, (row, start, end) => {
        if ((++leaves & 0x3fff) === 0 && opts.onProgress && Date.now() - told >= 1000) progress('log');
        const id = core.wireLeaf(row, start, end);
        if (id !== null) {
          sealed++;
          if (id > maxSealed) maxSealed = id;
        }
        return core.saturated() ? core.ready() : undefined;
      });
      // Checkpoints beyond the leaves: queued, reported as truncation at finish.
      while (!next.done) { core.checkpoint(next.value); next = await cps.next(); }
      progress('unsealed');
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
      progress('state');
      const state = (await alongside) ?? await currentState(conn, database, core);
      progress('checks');
      return await core.finish({
        dbNow: str(info?.now), maxUnsealedAgeS: opts.maxUnsealedAgeS, serverUuid: str(info?.uuid),
        fingerprint, state, pendingOrphans: orphans.map((r) => String(r.event_id)), seqDuplicates: duplicates,
      });
    });
  } finally {
    // The state stream alongside feeds the verifier: it ends before the verifier does.
    await alongside;
    if (second && !alongside) await second.then((c) => c.end(), () => undefined).catch(() => undefined);
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
