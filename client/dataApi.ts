// Typed functions over the data plane's stored procedures and tenant views (sql/api.ts).
// Each takes a connection; tenant-scoped ones need a connection bound to the tenant
// (TenantSessions.run does that and clears it afterwards). Values here are what the
// DB holds: envelopes and wrapped keys, never plaintext. The ZtClient facade
// (client/ztClient.ts) adds encryption, key handling and pooling.
import type { Pool, PoolConnection, Connection, RowDataPacket } from 'mysql2/promise';
import { isUuid } from './encoding';

export type Queryable = Pool | PoolConnection | Connection;
type QueryValue = {} | null | undefined; // eslint-disable-line @typescript-eslint/no-empty-object-type

/** A data-plane refusal (SIGNAL 45000 'ZT_…: …') or another SQL failure. Messages carry no plaintext. */
export class ZtApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly sqlState?: string,
  ) {
    super(message);
    this.name = 'ZtApiError';
  }
}

/** The database could not be reached, refused the login/TLS, or dropped the connection. */
export class ZtConnectionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ZtConnectionError';
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'HANDSHAKE_SSL_ERROR', 'HANDSHAKE_NO_SSL_SUPPORT',
  'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_SECURE_TRANSPORT_REQUIRED', 'ER_HOST_NOT_PRIVILEGED',
  'ER_ACCOUNT_HAS_BEEN_LOCKED', 'ER_MUST_CHANGE_PASSWORD_LOGIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * Map a mysql2/socket error to ZtApiError or ZtConnectionError. Only code and server
 * message are kept: mysql2's `sql` (the statement with its values) is dropped.
 */
export function toZtError(e: unknown): Error {
  if (e instanceof ZtApiError || e instanceof ZtConnectionError) return e;
  const err = e as { code?: string; errno?: number; sqlState?: string; sqlMessage?: string; message?: string; fatal?: boolean };
  const msg = err.sqlMessage ?? err.message ?? String(e);
  if (err.sqlState === '45000') {
    const m = /^(ZT_[A-Z_]+):\s*(.*)$/s.exec(msg);
    return new ZtApiError(m ? m[1] : 'ZT_REFUSED', msg, err.sqlState);
  }
  const code = err.code ?? 'UNKNOWN';
  if (CONNECTION_CODES.has(code) || err.fatal || /^ERR_SSL|^ERR_TLS|certificate/i.test(code)) {
    return new ZtConnectionError(code, `database connection failed (${code}): ${msg.split('\n')[0]}`);
  }
  return new ZtApiError(code, `SQL error ${code}: ${msg.split('\n')[0]}`, err.sqlState);
}

/** CALL a procedure with bound values; the rows of its first result set. */
export async function callProc(conn: Queryable, proc: string, args: readonly unknown[] = []): Promise<RowDataPacket[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(proc)) throw new ZtApiError('ZT_CLIENT', `bad procedure name ${proc}`);
  try {
    const [res] = await conn.query(`CALL ${proc}(${args.map(() => '?').join(', ')})`, [...args] as QueryValue[]);
    if (Array.isArray(res) && Array.isArray(res[0])) return res[0] as RowDataPacket[];
    return [];
  } catch (e) {
    throw toZtError(e);
  }
}

async function select(conn: Queryable, sql: string, args: readonly unknown[] = []): Promise<RowDataPacket[]> {
  try {
    const [rows] = await conn.query(sql, [...args] as QueryValue[]);
    return rows as RowDataPacket[];
  } catch (e) {
    throw toZtError(e);
  }
}

export function requireUuid(value: string, what: string): string {
  if (!isUuid(value)) throw new ZtApiError('ZT_BAD_UUID', `${what} is not a UUID (8-4-4-4-12 hex digits)`);
  return value.toLowerCase();
}

// ---------------------------------------------------------------- tenancy

export async function setTenant(conn: Queryable, tenantId: string): Promise<void> {
  await callProc(conn, 'security_set_tenant', [requireUuid(tenantId, 'tenant id')]);
}

export async function clearTenant(conn: Queryable): Promise<void> {
  await callProc(conn, 'security_clear_tenant');
}

/** The tenant bound to the connection (null when none or no longer valid). */
export async function currentTenant(conn: Queryable): Promise<{ tenantId: string | null; principal: string }> {
  const [row] = await callProc(conn, 'security_current_tenant');
  return { tenantId: (row?.tenant_id as string | null) ?? null, principal: String(row?.principal ?? '') };
}

// ---------------------------------------------------------------- admin (owner principal)

export async function adminCreateTenant(owner: Queryable, tenantId: string, name: string): Promise<void> {
  await callProc(owner, 'admin_create_tenant', [requireUuid(tenantId, 'tenant id'), name]);
}

export async function adminAllowPrincipal(owner: Queryable, tenantId: string, principal: string): Promise<void> {
  await callProc(owner, 'admin_allow_principal', [requireUuid(tenantId, 'tenant id'), principal]);
}

export async function adminDisallowPrincipal(owner: Queryable, tenantId: string, principal: string): Promise<void> {
  await callProc(owner, 'admin_disallow_principal', [requireUuid(tenantId, 'tenant id'), principal]);
}

/** Tenants a principal may act for (owner only: reads tenants/tenant_principals directly). */
export async function adminListTenants(owner: Queryable, principal?: string): Promise<{ tenantId: string; name: string }[]> {
  const rows = principal === undefined
    ? await select(owner, 'SELECT BIN_TO_UUID(t.id) AS tenant_id, t.name FROM tenants t ORDER BY t.id')
    : await select(owner, `SELECT BIN_TO_UUID(t.id) AS tenant_id, t.name FROM tenants t
        JOIN tenant_principals p ON p.tenant_id = t.id WHERE p.principal = ? ORDER BY t.id`, [principal]);
  return rows.map((r) => ({ tenantId: String(r.tenant_id), name: String(r.name) }));
}

// ---------------------------------------------------------------- key vault

export interface KeyVaultRow {
  readonly dekId: string;
  readonly wrappedDek: Buffer;
  readonly kmsKeyName: string;
  readonly active: boolean;
  readonly createdAt: Date;
  readonly rotatedAt: Date | null;
}

const keyRow = (r: RowDataPacket): KeyVaultRow => ({
  dekId: String(r.dek_id),
  wrappedDek: Buffer.from(r.wrapped_dek as Buffer),
  kmsKeyName: String(r.kms_key_name),
  active: Number(r.active) === 1,
  createdAt: r.created_at as Date,
  rotatedAt: (r.rotated_at as Date | null) ?? null,
});

export async function keyPut(conn: Queryable, dekId: string, wrapped: Buffer, kmsKeyName: string): Promise<void> {
  await callProc(conn, 'app_key_put', [requireUuid(dekId, 'DEK id'), wrapped, kmsKeyName]);
}

export async function keyGet(conn: Queryable, dekId: string): Promise<KeyVaultRow | undefined> {
  const [r] = await callProc(conn, 'app_key_get', [requireUuid(dekId, 'DEK id')]);
  return r ? keyRow(r) : undefined;
}

export async function keyLatest(conn: Queryable): Promise<KeyVaultRow | undefined> {
  const [r] = await callProc(conn, 'app_key_latest');
  return r ? keyRow(r) : undefined;
}

export async function keyList(conn: Queryable): Promise<KeyVaultRow[]> {
  return (await callProc(conn, 'app_key_list')).map(keyRow);
}

/** Compare-and-set of a wrapped DEK; true when replaced. */
export async function keyRewrap(conn: Queryable, dekId: string, expected: Buffer, next: Buffer, kmsKeyName: string): Promise<boolean> {
  const [r] = await callProc(conn, 'app_key_rewrap', [requireUuid(dekId, 'DEK id'), expected, next, kmsKeyName]);
  return Number(r?.replaced) === 1;
}

/** Deletes every DEK of the tenant (crypto-shredding; the key_vault trigger logs each DELETE). */
export async function keyShred(conn: Queryable): Promise<number> {
  const [r] = await callProc(conn, 'app_key_shred');
  return Number(r?.shredded ?? 0);
}

// ---------------------------------------------------------------- users (encrypted fields)

export interface EncryptedUserInput {
  readonly userId: string;
  readonly role: string;
  readonly nameCt: Buffer;
  readonly emailCt: Buffer;
  readonly phoneCt: Buffer | null;
  readonly dekId: string;
}

/** A stored user: what was written, plus when. */
export interface EncryptedUserRow extends EncryptedUserInput {
  readonly createdAt: Date;
}

const userRow = (r: RowDataPacket): EncryptedUserRow => ({
  userId: String(r.user_id),
  role: String(r.role),
  nameCt: r.name_ct as Buffer,
  emailCt: r.email_ct as Buffer,
  phoneCt: (r.phone_ct as Buffer | null) ?? null,
  dekId: String(r.dek_id),
  createdAt: r.created_at as Date,
});

export async function createUserEncrypted(conn: Queryable, u: EncryptedUserInput): Promise<void> {
  await callProc(conn, 'app_create_user_encrypted', [
    requireUuid(u.userId, 'user id'), u.role, u.nameCt, u.emailCt, u.phoneCt, requireUuid(u.dekId, 'DEK id'),
  ]);
}

/** The user's encrypted row; appends a READ audit event. ZtApiError ZT_NOT_FOUND if absent. */
export async function getUserEncrypted(conn: Queryable, userId: string): Promise<EncryptedUserRow> {
  const [r] = await callProc(conn, 'app_get_user_encrypted', [requireUuid(userId, 'user id')]);
  if (!r) throw new ZtApiError('ZT_NOT_FOUND', 'ZT_NOT_FOUND: no such user in this tenant');
  return userRow(r);
}

/** A page of users in id order (after `afterUserId`); one READ event per row. */
export async function listUsersEncrypted(conn: Queryable, opts: { afterUserId?: string; limit?: number } = {}): Promise<EncryptedUserRow[]> {
  const after = opts.afterUserId === undefined ? null : requireUuid(opts.afterUserId, 'after user id');
  return (await callProc(conn, 'app_list_users', [after, opts.limit ?? 100])).map(userRow);
}

// ---------------------------------------------------------------- accounts and transfers

export interface AccountRow {
  readonly accountId: string;
  readonly userId: string;
  /** DECIMAL(19,4) as MySQL prints it. */
  readonly balance: string;
  readonly currency: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface TransferRow {
  readonly transferId: string;
  readonly kind: 'deposit' | 'transfer';
  readonly fromAccountId: string | null;
  readonly toAccountId: string;
  readonly amount: string;
  readonly currency: string;
  readonly createdAt: Date;
}

export interface UserListingRow {
  readonly userId: string;
  readonly role: string;
  readonly dekId: string;
  readonly createdAt: Date;
}

export async function openAccount(conn: Queryable, accountId: string, userId: string, currency: string): Promise<void> {
  await callProc(conn, 'app_open_account', [requireUuid(accountId, 'account id'), requireUuid(userId, 'user id'), currency]);
}

export async function deposit(conn: Queryable, transferId: string, accountId: string, amount: string): Promise<void> {
  await callProc(conn, 'app_deposit', [requireUuid(transferId, 'transfer id'), requireUuid(accountId, 'account id'), amount]);
}

export async function transfer(conn: Queryable, transferId: string, fromAccountId: string, toAccountId: string, amount: string): Promise<void> {
  await callProc(conn, 'app_transfer', [
    requireUuid(transferId, 'transfer id'), requireUuid(fromAccountId, 'from account id'), requireUuid(toAccountId, 'to account id'), amount,
  ]);
}

/** The tenant's accounts (v_accounts; empty without a tenant on the connection). */
export async function listAccounts(conn: Queryable): Promise<AccountRow[]> {
  const rows = await select(conn, 'SELECT account_id, user_id, balance, currency, created_at, updated_at FROM v_accounts ORDER BY account_id');
  return rows.map((r) => ({
    accountId: String(r.account_id), userId: String(r.user_id), balance: String(r.balance), currency: String(r.currency),
    createdAt: r.created_at as Date, updatedAt: r.updated_at as Date,
  }));
}

/** The tenant's transfers (v_transfers), oldest first. */
export async function listTransfers(conn: Queryable): Promise<TransferRow[]> {
  const rows = await select(conn, 'SELECT transfer_id, kind, from_account_id, to_account_id, amount, currency, created_at FROM v_transfers ORDER BY created_at, transfer_id');
  return rows.map((r) => ({
    transferId: String(r.transfer_id), kind: r.kind as TransferRow['kind'], fromAccountId: (r.from_account_id as string | null) ?? null,
    toAccountId: String(r.to_account_id), amount: String(r.amount), currency: String(r.currency), createdAt: r.created_at as Date,
  }));
}

/** The tenant's users without PII (v_users; no READ event). */
export async function listUserIds(conn: Queryable): Promise<UserListingRow[]> {
  const rows = await select(conn, 'SELECT user_id, role, dek_id, created_at FROM v_users ORDER BY user_id');
  return rows.map((r) => ({ userId: String(r.user_id), role: String(r.role), dekId: String(r.dek_id), createdAt: r.created_at as Date }));
}
