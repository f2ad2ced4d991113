// Where wrapped DEKs live. The data API backs this with the key vault table through
// stored procedures; InMemoryDekStore serves tests and benchmarks.

export interface StoredDek {
  readonly tenantId: string;
  readonly dekId: string;
  /** serializeWrappedKey() output. */
  readonly wrapped: Buffer;
  readonly createdAt: Date;
}

export interface DekStore {
  insert(rec: StoredDek): Promise<void>;
  /** Only returns the DEK if it belongs to `tenantId`. */
  get(tenantId: string, dekId: string): Promise<StoredDek | undefined>;
  /** The tenant's newest DEK: the one new writes use. */
  latest(tenantId: string): Promise<StoredDek | undefined>;
  list(tenantId?: string): Promise<StoredDek[]>;
  /** Compare-and-set of the wrapped blob (rotation must not clobber a concurrent change). */
  replaceWrapped(tenantId: string, dekId: string, expected: Buffer, next: Buffer): Promise<boolean>;
  /** Crypto-shredding: delete every DEK of the tenant; returns the count. */
  deleteTenant(tenantId: string): Promise<number>;
}

const copy = (r: StoredDek): StoredDek => ({ ...r, wrapped: Buffer.from(r.wrapped), createdAt: new Date(r.createdAt) });

export class InMemoryDekStore implements DekStore {
  private readonly rows = new Map<string, StoredDek>();
  private seq = 0;
  private readonly order = new Map<string, number>();

  async insert(rec: StoredDek): Promise<void> {
    const k = `${rec.tenantId}/${rec.dekId}`;
    if (this.rows.has(k)) throw new Error('duplicate DEK id');
    this.rows.set(k, copy(rec));
    this.order.set(k, ++this.seq);
  }

  async get(tenantId: string, dekId: string): Promise<StoredDek | undefined> {
    const r = this.rows.get(`${tenantId}/${dekId}`);
    return r ? copy(r) : undefined;
  }

  async latest(tenantId: string): Promise<StoredDek | undefined> {
    let best: StoredDek | undefined;
    let bestSeq = -1;
    for (const [k, r] of this.rows) {
      if (r.tenantId === tenantId && (this.order.get(k) ?? 0) > bestSeq) {
        best = r;
        bestSeq = this.order.get(k) ?? 0;
      }
    }
    return best ? copy(best) : undefined;
  }

  async list(tenantId?: string): Promise<StoredDek[]> {
    return [...this.rows.values()].filter((r) => tenantId === undefined || r.tenantId === tenantId).map(copy);
  }

  async replaceWrapped(tenantId: string, dekId: string, expected: Buffer, next: Buffer): Promise<boolean> {
    const k = `${tenantId}/${dekId}`;
    const r = this.rows.get(k);
    if (!r || !r.wrapped.equals(expected)) return false;
    this.rows.set(k, { ...r, wrapped: Buffer.from(next) });
    return true;
  }

  async deleteTenant(tenantId: string): Promise<number> {
    let n = 0;
    for (const [k, r] of this.rows) {
      if (r.tenantId === tenantId) {
        this.rows.delete(k);
        this.order.delete(k);
        n++;
      }
    }
    return n;
  }
}
