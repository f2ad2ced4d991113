// Per-tenant DEK cache. An unwrapped DEK is served at most `maxUses` times and for at
// most `maxAgeMs`; past either limit it is zeroised and the next use unwraps afresh.
// Keys are lent to a synchronous callback only, so an entry can never be zeroised
// while a caller is still using it.

export interface DekCacheOptions {
  maxAgeMs: number;
  maxUses: number;
  /** Bound on resident DEKs; least recently used are evicted first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

export interface DekCacheStats {
  /** Unwraps performed through the cache (= key wrapper unwrap calls). */
  loads: number;
  hits: number;
  evictedExpired: number;
  evictedExhausted: number;
  evictedCapacity: number;
  evictedExplicit: number;
}

interface Entry {
  tenantId: string;
  key: Buffer;
  loadedAt: number;
  uses: number;
}

export class DekCache {
  readonly stats: DekCacheStats = { loads: 0, hits: 0, evictedExpired: 0, evictedExhausted: 0, evictedCapacity: 0, evictedExplicit: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly maxAgeMs: number;
  private readonly maxUses: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(opts: DekCacheOptions) {
    if (!(opts.maxAgeMs > 0) || !Number.isInteger(opts.maxUses) || opts.maxUses < 1) throw new RangeError('DekCache needs maxAgeMs > 0 and maxUses >= 1');
    this.maxAgeMs = opts.maxAgeMs;
    this.maxUses = opts.maxUses;
    this.maxEntries = opts.maxEntries ?? 10000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Run `fn` with the tenant's DEK, unwrapping it with `loader` if it is absent, too old or
   * used up. `fn` must be synchronous and must not keep the buffer. Concurrent misses on
   * the same DEK share one unwrap.
   */
  async use<T>(tenantId: string, dekId: string, loader: () => Promise<Buffer>, fn: (key: Buffer) => T): Promise<T> {
    const k = `${tenantId}/${dekId}`;
    for (;;) {
      this.sweepIfDue();
      const e = this.entries.get(k);
      if (e) {
        const reason = this.staleReason(e);
        if (!reason) {
          e.uses++;
          this.stats.hits++;
          this.entries.delete(k); // move to most-recently-used position
          this.entries.set(k, e);
          return fn(e.key);
        }
        this.drop(k, reason);
      }
      const pending = this.inflight.get(k);
      if (pending) {
        await pending; // then re-check: other waiters may have used up the fresh entry
        continue;
      }
      const p = this.load(k, tenantId, loader);
      this.inflight.set(k, p);
      try {
        await p;
      } finally {
        this.inflight.delete(k);
      }
    }
  }

  /** Seed the cache with a DEK the caller just generated (no unwrap needed). Takes a copy. */
  prime(tenantId: string, dekId: string, key: Buffer): void {
    const k = `${tenantId}/${dekId}`;
    if (this.entries.has(k)) this.drop(k, 'explicit');
    this.insert(k, { tenantId, key: Buffer.from(key), loadedAt: this.now(), uses: 0 });
  }

  private async load(k: string, tenantId: string, loader: () => Promise<Buffer>): Promise<void> {
    this.stats.loads++;
    const key = await loader();
    if (this.entries.has(k)) this.drop(k, 'explicit');
    this.insert(k, { tenantId, key, loadedAt: this.now(), uses: 0 });
  }

  private insert(k: string, e: Entry): void {
    this.entries.set(k, e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.drop(oldest, 'capacity');
    }
  }

  private staleReason(e: Entry): 'expired' | 'exhausted' | undefined {
    if (this.now() - e.loadedAt >= this.maxAgeMs) return 'expired';
    if (e.uses >= this.maxUses) return 'exhausted';
    return undefined;
  }

  private drop(k: string, reason: 'expired' | 'exhausted' | 'capacity' | 'explicit'): void {
    const e = this.entries.get(k);
    if (!e) return;
    this.entries.delete(k);
    e.key.fill(0); // zeroise: the buffer is never handed out again
    if (reason === 'expired') this.stats.evictedExpired++;
    else if (reason === 'exhausted') this.stats.evictedExhausted++;
    else if (reason === 'capacity') this.stats.evictedCapacity++;
    else this.stats.evictedExplicit++;
  }

  /** Zeroise every entry past its age or use limit. */
  sweep(): void {
    this.lastSweep = this.now();
    for (const [k, e] of this.entries) {
      const reason = this.staleReason(e);
      if (reason) this.drop(k, reason);
    }
  }

  private sweepIfDue(): void {
    if (this.now() - this.lastSweep >= Math.min(1000, this.maxAgeMs)) this.sweep();
  }

  evict(tenantId: string, dekId: string): boolean {
    const k = `${tenantId}/${dekId}`;
    const had = this.entries.has(k);
    this.drop(k, 'explicit');
    return had;
  }

  /** Zeroise every cached DEK of one tenant (crypto-shredding); returns how many. */
  evictTenant(tenantId: string): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.tenantId === tenantId) {
        this.drop(k, 'explicit');
        n++;
      }
    }
    return n;
  }

  clear(): void {
    for (const k of [...this.entries.keys()]) this.drop(k, 'explicit');
  }
}
