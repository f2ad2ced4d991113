// The pool/tenant rule: every request takes a connection from the pool, binds it to
// its tenant with security_set_tenant, runs, and clears the tenant in `finally`. A
// connection whose clear did not succeed is destroyed, never returned to the pool,
// so no pooled connection ever carries a tenant into another request.
import type { Pool, PoolConnection } from 'mysql2/promise';
import { clearTenant, requireUuid, setTenant, toZtError } from './dataApi';

export interface TenantSessionStats {
  /** Requests run. */
  runs: number;
  /** Connections cleared and returned to the pool. */
  released: number;
  /** Connections destroyed because the tenant could not be cleared. */
  destroyed: number;
}

export class TenantSessions {
  readonly stats: TenantSessionStats = { runs: 0, released: 0, destroyed: 0 };

  constructor(readonly pool: Pool) {}

  /** Run `fn` on a pooled connection bound to `tenantId`; the binding never outlives the call. */
  async run<T>(tenantId: string, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const tenant = requireUuid(tenantId, 'tenant id');
    return this.runUnbound(async (conn) => {
      await setTenant(conn, tenant);
      return fn(conn);
    });
  }

  /** Run `fn` on a pooled connection without a tenant (e.g. the owner's admin calls). */
  async runUnbound<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw toZtError(e);
    }
    this.stats.runs++;
    try {
      return await fn(conn);
    } finally {
      await this.giveBack(conn);
    }
  }

  private async giveBack(conn: PoolConnection): Promise<void> {
    try {
      await clearTenant(conn);
    } catch {
      this.stats.destroyed++;
      conn.destroy();
      return;
    }
    this.stats.released++;
    conn.release();
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
