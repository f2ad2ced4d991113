// Synthetic audit logs for the streaming verifier's unit tests and benchmark: events
// encoded exactly as the triggers do, sealed in batches into chained checkpoints,
// and anchors taken at chosen sizes, all generated lazily (no arrays of leaves).
import { checkpointHash, encodeField, EventRow, eventLeafHash, GENESIS_PREV, textField } from '../format';
import { Frontier } from '../merkle';
import type { StoredCheckpoint, StoredEvent } from '../verify';
import type { AnchorPoint } from '../verifyStream';

const enc = (type: number, b: Buffer): Buffer => encodeField({ type: type as 1, bytes: b });
const img = (pairs: [string, number, Buffer][]): Buffer =>
  Buffer.concat(pairs.flatMap(([name, type, value]) => [encodeField(textField(name)), enc(type, value)]));

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
/** DATETIME(6) text for a millisecond time. */
export const dbTime = (ms: number, micros = 0): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds() * 1000 + micros, 6)}`;
};

export const T0 = Date.UTC(2030, 0, 1);
export const INCARNATION = '11111111-2222-3333-4444-555555555555:1893456000';

export const SYNTH_TENANT = Buffer.alloc(16, 7);
const SYNTH_USER = Buffer.alloc(16, 9);
const SYNTH_CREATED = '2030-01-01 00:00:00.000000';
const synthId = (row: number): Buffer => {
  const id = Buffer.alloc(16);
  id.writeUInt32BE(row, 12);
  return id;
};
const synthBalance = (k: number): string => `${k}.0000`;

/**
 * The full audit image of synthetic account `row` after event k, in the accounts
 * spec's column order, so the rows can be loaded into the real table and the state
 * reconciliation runs against them.
 */
const accountImage = (row: number, k: number): Buffer => img([
  ['tenant_id', 6, SYNTH_TENANT], ['id', 6, synthId(row)], ['user_id', 6, SYNTH_USER],
  ['balance', 4, Buffer.from(synthBalance(k), 'ascii')], ['currency', 1, Buffer.from('EUR')],
  ['created_at', 5, Buffer.from(SYNTH_CREATED)], ['updated_at', 5, Buffer.from(SYNTH_CREATED)],
]);

/** Event i (1-based): an accounts INSERT, then UPDATEs of the same row (so state replay is exercised). */
export function synthEvent(i: number, t0 = T0): StoredEvent {
  const row = Math.ceil(i / 4);
  const first = i % 4 === 1;
  const e: EventRow = {
    formatVersion: 1,
    tableName: 'accounts',
    action: first ? 'INSERT' : 'UPDATE',
    pkImage: img([['tenant_id', 6, SYNTH_TENANT], ['id', 6, synthId(row)]]),
    tenantId: SYNTH_TENANT,
    actor: 'app@198.18.0.1',
    eventTime: dbTime(t0 + i * 10),
    incarnation: INCARNATION,
    beforeImage: first ? null : accountImage(row, i - 1),
    afterImage: accountImage(row, i),
    detail: null,
  };
  return { ...e, eventId: BigInt(i), leafHash: eventLeafHash(e) };
}

/** The accounts rows a log of n synthetic events leaves: each row with its last event's balance. */
export function* synthAccounts(n: number): Generator<{ tenantId: Buffer; id: Buffer; userId: Buffer; balance: string; currency: string; createdAt: string; updatedAt: string }> {
  for (let row = 1; row <= Math.ceil(n / 4); row++) {
    yield { tenantId: SYNTH_TENANT, id: synthId(row), userId: SYNTH_USER, balance: synthBalance(Math.min(row * 4, n)), currency: 'EUR', createdAt: SYNTH_CREATED, updatedAt: SYNTH_CREATED };
  }
}

export interface SynthLog {
  /** Leaves in seq order with their events. */
  leaves(): Generator<{ seq: bigint; event: StoredEvent }>;
  /** Checkpoints in size order (genesis first). */
  checkpoints(): Generator<StoredCheckpoint>;
  /** Root at a size (recomputed). */
  rootAt(size: number): Buffer;
  cpHashAt(size: number): Buffer;
}

/** A log of n events sealed `batch` at a time; checkpoint k seals events up to k*batch. */
export function synthLog(n: number, batch = 10, t0 = T0, mutate?: (e: StoredEvent) => StoredEvent): SynthLog {
  const ev = (i: number): StoredEvent => (mutate ? mutate(synthEvent(i, t0)) : synthEvent(i, t0));
  const sizes = (): number[] => {
    const s = [0];
    for (let k = batch; k < n; k += batch) s.push(k);
    if (n > 0) s.push(n);
    return s;
  };
  function* cps(): Generator<StoredCheckpoint> {
    const f = new Frontier();
    let prev: Buffer = GENESIS_PREV;
    for (const size of sizes()) {
      while (f.size < size) f.append(synthEvent(f.size + 1, t0).leafHash);
      const base = { treeSize: BigInt(size), root: f.root(), prevCheckpointHash: prev, sealedAt: dbTime(t0 + size * 10 + 5), incarnation: INCARNATION };
      const h = checkpointHash(base);
      yield { ...base, checkpointHash: h, frontier: f.toBlob() };
      prev = h;
    }
  }
  const find = (size: number): StoredCheckpoint => {
    for (const c of cps()) if (Number(c.treeSize) === size) return c;
    throw new Error(`no checkpoint ${size}`);
  };
  return {
    *leaves() { for (let i = 1; i <= n; i++) yield { seq: BigInt(i), event: ev(i) }; },
    checkpoints: cps,
    rootAt: (size) => {
      const f = new Frontier();
      for (let i = 1; i <= size; i++) f.append(synthEvent(i, t0).leafHash);
      return f.root();
    },
    cpHashAt: (size) => find(size).checkpointHash,
  };
}

/** An anchor of the synthetic log at a checkpoint size, emitted at a time (ms). */
export function synthAnchor(log: SynthLog, size: number, emittedMs: number, extra: Partial<AnchorPoint> = {}): AnchorPoint {
  return {
    treeSize: size, root: log.rootAt(size), checkpointHash: log.cpHashAt(size),
    emittedAt: new Date(emittedMs).toISOString(), emittedMs, serverUuid: INCARNATION.slice(0, 36), incarnation: INCARNATION,
    fingerprint: 'f'.repeat(64), source: 'synthetic', line: size, ...extra,
  };
}

/** Leaves and checkpoints in one lazy pass, in the order the verifier needs them (checkpoint s right after leaf s). */
export function* synthMerged(n: number, batch = 10, t0 = T0): Generator<{ leaf: { seq: bigint; event: StoredEvent } } | { cp: StoredCheckpoint }> {
  const f = new Frontier();
  let prev: Buffer = GENESIS_PREV;
  const cp = (): StoredCheckpoint => {
    const base = { treeSize: BigInt(f.size), root: f.root(), prevCheckpointHash: prev, sealedAt: dbTime(t0 + f.size * 10 + 5), incarnation: INCARNATION };
    const h = checkpointHash(base);
    prev = h;
    return { ...base, checkpointHash: h, frontier: f.toBlob() };
  };
  yield { cp: cp() };
  for (let i = 1; i <= n; i++) {
    const event = synthEvent(i, t0);
    f.append(event.leafHash);
    yield { leaf: { seq: BigInt(i), event } };
    if (i % batch === 0 || i === n) yield { cp: cp() };
  }
}
