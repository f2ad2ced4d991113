// Proofs computed from a stream of leaves in O(log n) memory. Every node of an RFC 6962
// audit path or consistency proof is the MTH of a contiguous range of leaves [a, b):
// the range plans below say which, so a verifier can hash each range as the leaves go
// by (RangeHasher) instead of keeping the leaves. The offline check of an inclusion
// proof file (`ztmysql verify --check-proof`) lives here too.
import { EventRow, eventLeafHash } from './format';
import { Frontier, verifyInclusion } from './merkle';

export type Range = readonly [number, number];

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The ranges whose MTHs form PATH(m, D[n]), in proof order (RFC 6962 §2.1.1). */
export function inclusionRanges(m: number, n: number): Range[] {
  if (!(m >= 0 && m < n)) throw new RangeError(`leaf index ${m} outside a tree of ${n}`);
  const out: Range[] = [];
  const rec = (idx: number, lo: number, hi: number): void => {
    const size = hi - lo;
    if (size === 1) return;
    const k = split(size);
    if (idx < k) { rec(idx, lo, lo + k); out.push([lo + k, hi]); } else { rec(idx - k, lo + k, hi); out.push([lo, lo + k]); }
  };
  rec(m, 0, n);
  return out;
}

/** The ranges whose MTHs form PROOF(m, D[n]), in proof order (RFC 6962 §2.1.2). */
export function consistencyRanges(m: number, n: number): Range[] {
  if (!(m >= 0 && m <= n)) throw new RangeError(`old size ${m} outside 0..${n}`);
  if (m === 0 || m === n) return [];
  const out: Range[] = [];
  const rec = (mm: number, lo: number, hi: number, b: boolean): void => {
    const size = hi - lo;
    if (mm === size) { if (!b) out.push([lo, hi]); return; }
    const k = split(size);
    if (mm <= k) { rec(mm, lo, lo + k, b); out.push([lo + k, hi]); } else { rec(mm - k, lo + k, hi, false); out.push([lo, lo + k]); }
  };
  rec(m, 0, n, true);
  return out;
}

/** The leaf ranges of the frontier nodes of a tree of `size` (largest first). */
export function frontierRanges(size: number): Range[] {
  const out: Range[] = [];
  let lo = 0;
  for (let bit = Math.floor(Math.log2(Math.max(size, 1))) + 1; bit >= 0; bit--) {
    const w = 2 ** bit;
    if (Math.floor(size / w) % 2 === 1) { out.push([lo, lo + w]); lo += w; }
  }
  return out;
}

/**
 * Hashes the given ranges as leaves are pushed in order (leaf index 0, 1, …). Ranges
 * that end at or before `fromFrontierAt` (if given) are taken from the frontier
 * snapshot passed to `snapshot()` instead of being re-hashed: they are exactly its
 * perfect subtrees. Memory: one Frontier per range being filled, O(log n) each.
 */
export class RangeHasher {
  private readonly hashes: (Buffer | undefined)[];
  private readonly open = new Map<number, Frontier>();

  constructor(readonly ranges: readonly Range[]) {
    this.hashes = ranges.map(() => undefined);
  }

  /** Fill ranges that are perfect subtrees of a frontier from it (call when the stream is at frontier.size). */
  fromFrontier(frontier: Frontier): void {
    const fr = frontierRanges(frontier.size);
    this.ranges.forEach(([a, b], i) => {
      if (this.hashes[i]) return;
      const j = fr.findIndex(([x, y]) => x === a && y === b);
      if (j >= 0) this.hashes[i] = frontier.nodes[j];
    });
  }

  /** Feed leaf `index` (leaves must come in order). */
  push(index: number, leaf: Buffer): void {
    this.ranges.forEach(([a, b], i) => {
      if (this.hashes[i] || index < a || index >= b) return;
      let f = this.open.get(i);
      if (!f) {
        if (index !== a) return; // started after this range began: cannot fill it
        f = new Frontier();
        this.open.set(i, f);
      }
      f.append(leaf);
      if (index === b - 1) { this.hashes[i] = f.root(); this.open.delete(i); }
    });
  }

  complete(): boolean {
    return this.hashes.every((h) => h !== undefined);
  }

  proof(): Buffer[] {
    if (!this.complete()) throw new Error('proof ranges not all hashed');
    return this.hashes as Buffer[];
  }
}

// ---- The inclusion proof file -------------------------------------------------

export const INCLUSION_PROOF_FORMAT = 'ztmysql-inclusion-proof/1';

/** The event's stored columns, hex for bytes, so the leaf can be recomputed offline. */
export interface ProofEvent {
  readonly format_version: number;
  readonly table_name: string;
  readonly action: string;
  readonly pk_image: string;
  readonly tenant_id: string | null;
  readonly actor: string;
  readonly event_time: string;
  readonly incarnation: string;
  readonly before_image: string | null;
  readonly after_image: string | null;
  readonly detail: string | null;
}

export interface InclusionProofFile {
  readonly format: typeof INCLUSION_PROOF_FORMAT;
  readonly event_id: string;
  readonly seq: number;
  readonly leaf_index: number;
  readonly leaf_hash: string;
  readonly tree_size: number;
  readonly root: string;
  readonly audit_path: readonly string[];
  /** The anchor the root was taken from. */
  readonly anchor: { readonly emitted_at: string; readonly checkpoint_hash: string; readonly source: string; readonly line: number };
  readonly event: ProofEvent;
}

export const proofEventOf = (e: EventRow): ProofEvent => ({
  format_version: e.formatVersion,
  table_name: e.tableName,
  action: e.action,
  pk_image: e.pkImage.toString('hex'),
  tenant_id: e.tenantId ? e.tenantId.toString('hex') : null,
  actor: e.actor,
  event_time: e.eventTime,
  incarnation: e.incarnation,
  before_image: e.beforeImage ? e.beforeImage.toString('hex') : null,
  after_image: e.afterImage ? e.afterImage.toString('hex') : null,
  detail: e.detail,
});

const hb = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'hex'));
export const eventRowOf = (p: ProofEvent): EventRow => ({
  formatVersion: p.format_version,
  tableName: p.table_name,
  action: p.action,
  pkImage: hb(p.pk_image) as Buffer,
  tenantId: hb(p.tenant_id),
  actor: p.actor,
  eventTime: p.event_time,
  incarnation: p.incarnation,
  beforeImage: hb(p.before_image),
  afterImage: hb(p.after_image),
  detail: p.detail,
});

export interface AnchoredRoot {
  readonly tree_size: number;
  readonly root: string;
  readonly emitted_at?: string;
  readonly source?: string;
  readonly line?: number;
}

export interface ProofCheck {
  readonly ok: boolean;
  readonly checks: { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Offline check of an inclusion proof: the event content hashes to the leaf, the
 * audit path takes the leaf to the root, and an anchor (from the WORM source) holds
 * that root for that tree size.
 */
export function checkInclusionProof(p: InclusionProofFile, anchors: Iterable<AnchoredRoot>): ProofCheck {
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const wellFormed = p?.format === INCLUSION_PROOF_FORMAT && HEX64.test(p.leaf_hash) && HEX64.test(p.root)
    && Array.isArray(p.audit_path) && p.audit_path.every((x) => HEX64.test(x))
    && Number.isSafeInteger(p.leaf_index) && Number.isSafeInteger(p.tree_size);
  checks.push({ name: 'well-formed', ok: wellFormed, detail: wellFormed ? INCLUSION_PROOF_FORMAT : 'not a ztmysql inclusion proof' });
  if (!wellFormed) return { ok: false, checks };
  const leaf = Buffer.from(p.leaf_hash, 'hex');
  if (p.event) {
    let detail: string;
    let ok = false;
    try {
      const h = eventLeafHash(eventRowOf(p.event));
      ok = h.equals(leaf);
      detail = ok ? 'the event content hashes to leaf_hash' : `the event content hashes to ${h.toString('hex')}, not leaf_hash`;
    } catch (e) {
      detail = `event content unreadable: ${(e as Error).message}`;
    }
    checks.push({ name: 'leaf', ok, detail });
  }
  const path = p.audit_path.map((x) => Buffer.from(x, 'hex'));
  const incl = verifyInclusion(p.leaf_index, p.tree_size, leaf, path, Buffer.from(p.root, 'hex'));
  checks.push({ name: 'inclusion', ok: incl, detail: incl ? `leaf ${p.leaf_index} is in the tree of ${p.tree_size} with root ${p.root}` : 'the audit path does not lead from the leaf to the root' });
  let found: AnchoredRoot | undefined;
  let sameSize = 0;
  for (const a of anchors) {
    if (a.tree_size !== p.tree_size) continue;
    sameSize++;
    if (a.root === p.root) { found = a; break; }
  }
  checks.push({
    name: 'anchored', ok: !!found,
    detail: found ? `anchored at ${found.emitted_at ?? '?'} (${found.source ?? '?'}:${found.line ?? '?'})`
      : sameSize ? `${sameSize} anchor(s) of tree size ${p.tree_size}, none with this root` : `no anchor of tree size ${p.tree_size}`,
  });
  return { ok: checks.every((c) => c.ok), checks };
}
