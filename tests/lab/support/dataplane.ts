// Helpers for the data-plane lab tests: tenants made through the owner's admin
// procedures, real envelopes from the client SDK, and audit-log snapshots.
import { randomBytes, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { encryptField, DataKey } from '../../../client/envelope';
import { connectAs, rootSql } from './testLab';

export type Conn = mysql.Connection;

export const uuid = (): string => randomUUID();

/** CALL a procedure; returns the rows of its first result set (if any). */
export async function call(conn: Conn | mysql.Pool | mysql.PoolConnection, proc: string, args: unknown[] = []): Promise<mysql.RowDataPacket[]> {
  const [res] = await conn.query(`CALL ${proc}(${args.map(() => '?').join(', ')})`, args);
  if (Array.isArray(res) && Array.isArray(res[0])) return res[0] as mysql.RowDataPacket[];
  return [];
}

/** A wrapped-key blob in the client's serializeWrappedKey layout (content is random: the DB never unwraps). */
export function fakeWrappedDek(): Buffer {
  const name = Buffer.from('projects/lab/locations/global/keyRings/zt/cryptoKeys/kek', 'utf8');
  const payload = randomBytes(60);
  const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(payload.length);
  return Buffer.concat([Buffer.from('ZW', 'ascii'), Buffer.from([1, 1]), u16(name.length), name, u16(1), Buffer.from('1'), u32, payload]);
}

export interface TenantFixture {
  readonly tenantId: string;
  readonly dek: DataKey;
}

/** Creates a tenant as the owner and allows the given principals. */
export async function createTenant(owner: Conn, principals: string[] = ['app']): Promise<string> {
  const tenantId = uuid();
  await call(owner, 'admin_create_tenant', [tenantId, `tenant-${tenantId.slice(0, 8)}`]);
  for (const p of principals) await call(owner, 'admin_allow_principal', [tenantId, p]);
  return tenantId;
}

/** Tenant with an active DEK stored by the app through the key vault procedures. */
export async function tenantWithDek(owner: Conn, app: Conn): Promise<TenantFixture> {
  const tenantId = await createTenant(owner);
  await call(app, 'security_set_tenant', [tenantId]);
  const dek: DataKey = { id: uuid(), key: randomBytes(32) };
  await call(app, 'app_key_put', [dek.id, fakeWrappedDek(), 'projects/lab/locations/global/keyRings/zt/cryptoKeys/kek']);
  return { tenantId, dek };
}

export function envelope(f: TenantFixture, column: string, rowId: string, text: string): Buffer {
  return encryptField(f.dek, { tenantId: f.tenantId, table: 'users', column, rowId }, text);
}

/** Creates a user with encrypted name/email/phone; the app connection must be set to the tenant. */
export async function createUser(app: Conn, f: TenantFixture, role = 'member'): Promise<string> {
  const id = uuid();
  await call(app, 'app_create_user_encrypted', [id, role, envelope(f, 'name_ct', id, 'Alice Example'),
    envelope(f, 'email_ct', id, 'alice@example.test'), envelope(f, 'phone_ct', id, '+1 555 0100'), f.dek.id]);
  return id;
}

export async function openAccount(app: Conn, userId: string, currency = 'EUR', deposit?: string): Promise<string> {
  const id = uuid();
  await call(app, 'app_open_account', [id, userId, currency]);
  if (deposit) await call(app, 'app_deposit', [uuid(), id, deposit]);
  return id;
}

export async function owner(): Promise<Conn> { return connectAs('owner'); }
export async function app(): Promise<Conn> { return connectAs('app'); }
export async function auditor(): Promise<Conn> { return connectAs('auditor'); }

/** Row counts of a tenant's rows in every data-plane table and of its audit events (as root). */
export async function tenantCounts(tenantId: string): Promise<Record<string, number>> {
  const t = `UUID_TO_BIN('${tenantId.replace(/[^0-9a-f-]/gi, '')}')`;
  const q: Record<string, string> = {
    tenants: `SELECT COUNT(*) FROM ztmysql.tenants WHERE id = ${t}`,
    tenant_principals: `SELECT COUNT(*) FROM ztmysql.tenant_principals WHERE tenant_id = ${t}`,
    key_vault: `SELECT COUNT(*) FROM ztmysql.key_vault WHERE tenant_id = ${t}`,
    key_vault_digest: `SELECT COALESCE(SUM(CRC32(CONCAT(wrapped_dek, kms_key_name, active))), 0) FROM ztmysql.key_vault WHERE tenant_id = ${t}`,
    users: `SELECT COUNT(*) FROM ztmysql.users WHERE tenant_id = ${t}`,
    accounts: `SELECT COUNT(*) FROM ztmysql.accounts WHERE tenant_id = ${t}`,
    balances: `SELECT COALESCE(SUM(balance) * 10000, 0) FROM ztmysql.accounts WHERE tenant_id = ${t}`,
    transfers: `SELECT COUNT(*) FROM ztmysql.transfers WHERE tenant_id = ${t}`,
    audit_events: `SELECT COUNT(*) FROM ztmysql.audit_events WHERE tenant_id = ${t}`,
  };
  const rows = await rootSql(Object.entries(q).map(([k, sql]) => `SELECT '${k}', (${sql});`).join('\n'));
  return Object.fromEntries(rows.map(([k, n]) => [k as string, Number(n)]));
}

/** Waits until the sealer has sealed every committed event (audit_pending empty). */
export async function waitSealed(timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [[n]] = (await rootSql('SELECT COUNT(*) FROM ztmysql.audit_pending;')) as [[string]];
    if (Number(n) === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} events still unsealed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function msgOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}
