// Tenancy (security_set_tenant and the context check every routine repeats), the
// procedure API the app principal may EXECUTE, the owner's admin procedures and the
// tenant-scoped views. Everything runs SQL SECURITY DEFINER as the locked definer.
import { ENVELOPE_MIN, PII_BLOB_MAX, PII_MAX_PLAINTEXT, WRAPPED_DEK_MAX, tableSpec } from './tableSpecs';
import { compactIntArgs, compactTextArgs, compactUuidArgs, DEFINER, hexLit, imageSql, lit, pkColumns } from './sqlExpr';
import { BOOT_TABLE } from './schema';

// ---------------------------------------------------------------- parameters

type ParamKind =
  | { kind: 'uuid' }
  | { kind: 'text'; max: number; pattern: string; what: string }
  | { kind: 'envelope' }
  | { kind: 'wrapped' }
  | { kind: 'amount' }
  | { kind: 'limit'; max: number };

export type Param = ParamKind & { readonly name: string; readonly nullable?: boolean };

/** Declared parameter types: wider than the limits, so moderately oversize input gets our ZT_TOO_LONG. */
function paramType(p: Param): string {
  switch (p.kind) {
    case 'uuid': return 'VARCHAR(64)';
    case 'text': return `VARCHAR(${p.max + 64})`;
    case 'envelope': return `VARBINARY(${PII_BLOB_MAX + 1024})`;
    case 'wrapped': return `VARBINARY(${WRAPPED_DEK_MAX + 1024})`;
    case 'amount': return 'VARCHAR(64)';
    case 'limit': return 'BIGINT';
  }
}

const local = (p: Param): string => `v_${p.name.replace(/^p_/, '')}`;
const fail = (msg: string): string => {
  if (msg.length > 128) throw new Error(`MESSAGE_TEXT over 128 characters: ${msg}`);
  return `SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ${lit(msg)}`;
};
const UUID_RE = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const AMOUNT_RE = '^[0-9]{1,15}([.][0-9]{1,4})?$';
export const MAX_AMOUNT = '999999999999999.9999';

function localDecl(p: Param): string | undefined {
  switch (p.kind) {
    case 'uuid': return `DECLARE ${local(p)} BINARY(16)`;
    case 'amount': return `DECLARE ${local(p)} DECIMAL(19,4)`;
    default: return undefined;
  }
}

/**
 * The checks of one parameter as (condition, MESSAGE_TEXT) pairs, in order, plus the
 * assignments of its typed local. Conditions refer to parameters only (a UUID or an
 * amount is converted inline), so a procedure evaluates all of them in one CASE.
 */
function checks(p: Param, dekParam?: string): { tests: [string, string][]; sets: string[] } {
  const n = p.name;
  const tests: [string, string][] = [];
  const sets: string[] = [];
  const guard = (cond: string, msg: string): void => { tests.push([p.nullable ? `${n} IS NOT NULL AND (${cond})` : cond, msg]); };
  if (!p.nullable) tests.push([`${n} IS NULL`, `ZT_NULL: ${n} must not be NULL`]);
  switch (p.kind) {
    case 'uuid':
      // IS_UUID() also takes the 32-digit and braced forms; at 36 characters only
      // 8-4-4-4-12 remains (the UUID_RE pattern, without a regex compile per call).
      guard(`CHAR_LENGTH(${n}) <> 36 OR NOT IS_UUID(${n})`, `ZT_BAD_UUID: ${n} is not a UUID (8-4-4-4-12 hex digits)`);
      sets.push(`${local(p)} = UUID_TO_BIN(${n})`);
      break;
    case 'text':
      guard(`CHAR_LENGTH(${n}) > ${p.max}`, `ZT_TOO_LONG: ${n} exceeds ${p.max} characters`);
      guard(`${n} NOT REGEXP '${p.pattern}'`, `ZT_BAD_FORMAT: ${n} must be ${p.what}`);
      break;
    case 'envelope':
      guard(`LENGTH(${n}) < ${ENVELOPE_MIN} OR LENGTH(${n}) > ${PII_BLOB_MAX}`, `ZT_BAD_ENVELOPE: ${n} must be an envelope of ${ENVELOPE_MIN}..${PII_BLOB_MAX} bytes`);
      guard(`SUBSTRING(${n}, 1, 4) <> X'5A540101'`, `ZT_BAD_ENVELOPE: ${n} is not a v1 AES-256-GCM envelope (magic ZT, version 1, alg 1)`);
      if (dekParam) guard(`SUBSTRING(${n}, 5, 16) <> UUID_TO_BIN(${dekParam})`, `ZT_DEK_MISMATCH: ${n} is not encrypted under ${dekParam}`);
      break;
    case 'wrapped':
      guard(`LENGTH(${n}) < 8 OR LENGTH(${n}) > ${WRAPPED_DEK_MAX}`, `ZT_BAD_WRAPPED_KEY: ${n} must be 8..${WRAPPED_DEK_MAX} bytes`);
      guard(`SUBSTRING(${n}, 1, 3) <> X'5A5701'`, `ZT_BAD_WRAPPED_KEY: ${n} is not a v1 wrapped key (magic ZW, version 1)`);
      break;
    case 'amount':
      guard(`${n} NOT REGEXP '${AMOUNT_RE}'`, `ZT_BAD_AMOUNT: ${n} must be a decimal 0 < x <= ${MAX_AMOUNT}, at most 4 decimals`);
      guard(`CAST(${n} AS DECIMAL(19,4)) <= 0`, `ZT_BAD_AMOUNT: ${n} must be greater than zero`);
      sets.push(`${local(p)} = CAST(${n} AS DECIMAL(19,4))`);
      break;
    case 'limit':
      guard(`${n} < 1 OR ${n} > ${p.max}`, `ZT_BAD_LIMIT: ${n} must be 1..${p.max}`);
      break;
  }
  for (const [, msg] of tests) if (msg.length > 128) throw new Error(`MESSAGE_TEXT over 128 characters: ${msg}`);
  return { tests, sets };
}

/**
 * Validation of all parameters in one statement: the first failing check (in
 * parameter order, each parameter's checks in order) names the error; then the
 * typed locals. Same checks and messages as one IF per check, a fraction of the
 * stored-program steps.
 */
function validateAll(params: readonly Param[], dekParam?: string, tenantFirst = false): string[] {
  const all = params.map((p) => checks(p, dekParam));
  const tests = all.flatMap((c) => c.tests);
  const sets = all.flatMap((c) => c.sets);
  const out: string[] = [];
  if (tests.length) {
    out.push(`SET v_err = CASE${tests.map(([cond, msg]) => `\n    WHEN ${cond} THEN ${lit(msg)}`).join('')}\n  END;`);
    // When the tenant is checked later (in the DML), a missing tenant still wins over a bad parameter.
    const tenantCheck = tenantFirst ? 'SET v_tenant = zt_require_tenant(); ' : '';
    out.push(`IF v_err IS NOT NULL THEN ${tenantCheck}SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_err; END IF;`);
  }
  if (sets.length) out.push(`SET ${sets.join(', ')};`);
  return out;
}

/** Validation of one parameter; SIGNALs before anything is written. */
function validate(p: Param, dekLocal?: string): string[] {
  const n = p.name;
  const out: string[] = [];
  const nullCheck = p.nullable ? [] : [`IF ${n} IS NULL THEN ${fail(`ZT_NULL: ${n} must not be NULL`)}; END IF;`];
  const guard = (cond: string, msg: string): string => (p.nullable ? `IF ${n} IS NOT NULL AND (${cond}) THEN ${fail(msg)}; END IF;` : `IF ${cond} THEN ${fail(msg)}; END IF;`);
  out.push(...nullCheck);
  switch (p.kind) {
    case 'uuid':
      out.push(guard(`${n} NOT REGEXP '${UUID_RE}'`, `ZT_BAD_UUID: ${n} is not a UUID (8-4-4-4-12 hex digits)`));
      out.push(`SET ${local(p)} = UUID_TO_BIN(${n});`);
      break;
    case 'text':
      out.push(guard(`CHAR_LENGTH(${n}) > ${p.max}`, `ZT_TOO_LONG: ${n} exceeds ${p.max} characters`));
      out.push(guard(`${n} NOT REGEXP '${p.pattern}'`, `ZT_BAD_FORMAT: ${n} must be ${p.what}`));
      break;
    case 'envelope':
      out.push(guard(`LENGTH(${n}) < ${ENVELOPE_MIN} OR LENGTH(${n}) > ${PII_BLOB_MAX}`, `ZT_BAD_ENVELOPE: ${n} must be an envelope of ${ENVELOPE_MIN}..${PII_BLOB_MAX} bytes`));
      out.push(guard(`SUBSTRING(${n}, 1, 4) <> X'5A540101'`, `ZT_BAD_ENVELOPE: ${n} is not a v1 AES-256-GCM envelope (magic ZT, version 1, alg 1)`));
      if (dekLocal) out.push(guard(`SUBSTRING(${n}, 5, 16) <> ${dekLocal}`, `ZT_DEK_MISMATCH: ${n} is not encrypted under p_dek_id`));
      break;
    case 'wrapped':
      out.push(guard(`LENGTH(${n}) < 8 OR LENGTH(${n}) > ${WRAPPED_DEK_MAX}`, `ZT_BAD_WRAPPED_KEY: ${n} must be 8..${WRAPPED_DEK_MAX} bytes`));
      out.push(guard(`SUBSTRING(${n}, 1, 3) <> X'5A5701'`, `ZT_BAD_WRAPPED_KEY: ${n} is not a v1 wrapped key (magic ZW, version 1)`));
      break;
    case 'amount':
      out.push(guard(`${n} NOT REGEXP '${AMOUNT_RE}'`, `ZT_BAD_AMOUNT: ${n} must be a decimal 0 < x <= ${MAX_AMOUNT}, at most 4 decimals`));
      out.push(`SET ${local(p)} = CAST(${n} AS DECIMAL(19,4));`);
      out.push(`IF ${local(p)} <= 0 THEN ${fail(`ZT_BAD_AMOUNT: ${n} must be greater than zero`)}; END IF;`);
      break;
    case 'limit':
      out.push(guard(`${n} < 1 OR ${n} > ${p.max}`, `ZT_BAD_LIMIT: ${n} must be 1..${p.max}`));
      break;
  }
  return out;
}

// ---------------------------------------------------------------- routines

export interface RoutineDef {
  readonly name: string;
  readonly kind: 'PROCEDURE' | 'FUNCTION';
  /** Who gets EXECUTE: the app principal, nobody but the owner (admin), or nobody (internal). */
  readonly audience: 'app' | 'admin' | 'internal';
  readonly params: readonly Param[];
  readonly sql: string;
  readonly summary: string;
}

interface ProcOptions {
  name: string;
  audience: 'app' | 'admin';
  summary: string;
  params: Param[];
  /** Extra DECLAREs. */
  declare?: string[];
  /**
   * Needs the connection's tenant: true checks it first into v_tenant (ZT_NO_TENANT
   * otherwise); 'dml' leaves the check to the body's one statement (ctxFromSql()),
   * which must fall back to zt_require_tenant() when it touches no row. A bad
   * parameter still reports ZT_NO_TENANT first when the context is missing.
   */
  tenant: boolean | 'dml';
  /** Statements after validation; run inside one transaction when `tx`. */
  body: string[];
  /** Owns a transaction (write or read-event procedures). */
  tx: boolean;
  /** MESSAGE_TEXT for a duplicate key inside the transaction. */
  duplicate?: string;
  /** The envelope params are checked against this uuid parameter (p_dek_id). */
  dekParam?: string;
}

/** The bytes of the connection's stated context, @zt_ctx = HEX(tenant || mac); NULL when unset or not hex. */
export const CTX_BYTES_SQL = 'UNHEX(CAST(@zt_ctx AS CHAR CHARACTER SET ascii))';

function procedure(o: ProcOptions): RoutineDef {
  const params = o.params.map((p) => `IN ${p.name} ${paramType(p)}`).join(', ');
  const decls = [
    ...(o.tenant ? ['DECLARE v_tenant BINARY(16)', 'DECLARE v_ctx VARBINARY(128)'] : []),
    ...o.params.map(localDecl).filter((d): d is string => !!d),
    ...(o.declare ?? []),
  ];
  const handlers = o.tx
    ? [
      ...(o.duplicate ? [`DECLARE EXIT HANDLER FOR 1062 BEGIN ROLLBACK; ${fail(o.duplicate)}; END`] : []),
      'DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END',
    ]
    : [];
  // UUID params first so the envelope checks can compare with the DEK id.
  const ordered = [...o.params.filter((p) => p.kind === 'uuid'), ...o.params.filter((p) => p.kind !== 'uuid')];
  const validation = validateAll(ordered, o.dekParam, o.tenant === 'dml');
  if (validation.length) decls.push('DECLARE v_err VARCHAR(128)');
  const lines = [
    ...decls.map((d) => `  ${d};`),
    ...handlers.map((h) => `  ${h};`),
    ...(o.tenant === true ? ctxTenantSql().map((l) => `  ${l}`) : []),
    ...validation.map((l) => `  ${l}`),
    ...(o.tenant === 'dml' ? [`  SET v_ctx = ${CTX_BYTES_SQL};`] : []),
    ...(o.tx ? ['  COMMIT;', '  SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;', '  START TRANSACTION;'] : []),
    ...o.body.map((l) => `  ${l}`),
    ...(o.tx ? ['  COMMIT;'] : []),
  ];
  return {
    name: o.name, kind: 'PROCEDURE', audience: o.audience, params: o.params, summary: o.summary,
    sql: `CREATE DEFINER=${DEFINER} PROCEDURE ${o.name}(${params})
  MODIFIES SQL DATA SQL SECURITY DEFINER
  COMMENT ${lit(o.summary.slice(0, 1024))}
BEGIN
${lines.join('\n')}
END`,
  };
}

const uuid = (name: string, nullable = false): Param => ({ kind: 'uuid', name, nullable });

const USERS = tableSpec('users');
const CTX_LABEL = Buffer.from('ztmysql/tenant-ctx/v1', 'ascii');

/**
 * mac = H(k || H(k || label || UUID(tenant) || INT(CONNECTION_ID()) || TEXT(USER()) || TEXT(incarnation))).
 * tenant is a BINARY(16); a NULL tenant or incarnation gives a NULL mac, which matches nothing.
 */
function ctxMacSql(key: string, tenant: string, incarnation: string): string {
  return `UNHEX(SHA2(CONCAT(${key}, UNHEX(SHA2(CONCAT(${key}, ${hexLit(CTX_LABEL)},
    ${compactUuidArgs(tenant, false)}, ${compactIntArgs('CONNECTION_ID()', false)}, ${compactTextArgs('USER()', false)}, ${compactTextArgs(incarnation, false)}), 256))), 256))`;
}

/**
 * The connection's tenant, checked in three statements without stored-function calls
 * (each costs more than the whole check): @zt_ctx = HEX(tenant || mac) with a genuine
 * MAC for this connection, principal and incarnation, and the principal still allowed
 * the tenant; v_tenant is NULL otherwise. The same check as zt_ctx_tenant(), which the
 * procedures call when this one fails, to name the error.
 */
function ctxTenantSql(): string[] {
  return [
    `SET v_ctx = ${CTX_BYTES_SQL};`,
    `SET v_tenant = (SELECT tp.tenant_id ${ctxFromSql()});`,
    'IF v_tenant IS NULL THEN SET v_tenant = zt_require_tenant(); END IF;',
  ];
}

/**
 * FROM ... WHERE of the context check over v_ctx: one row, tp.tenant_id, when the
 * context is genuine and still allowed; none otherwise. Further tables may be joined
 * between (extraJoins). The incarnation comes from the per-boot cache only: in the
 * moment after a start before the cache is filled, this finds nothing and
 * zt_require_tenant() decides.
 */
function ctxFromSql(extraJoins = ''): string {
  return `FROM zt_secrets s
    JOIN ${BOOT_TABLE} zb ON zb.id = 1
    JOIN tenant_principals tp ON tp.tenant_id = SUBSTRING(v_ctx, 1, 16) AND tp.principal = SUBSTRING_INDEX(USER(), '@', 1)${extraJoins}
    WHERE s.name = 'tenant_ctx' AND LENGTH(s.secret) >= 32 AND LENGTH(v_ctx) = 48
      AND SUBSTRING(v_ctx, 17, 32) = ${ctxMacSql('s.secret', 'tp.tenant_id', 'zb.incarnation')}`;
}

/** The READ event of one users row: pk image from the row, columns in detail. */
const readEvent = (columns: string): string =>
  `INSERT INTO audit_events (table_name, action, pk_image, tenant_id, detail)
    SELECT 'users', 'READ', ${imageSql(pkColumns(USERS), 'NEW').replace(/NEW\./g, 'u.')}, u.tenant_id, ${lit(`columns=${columns}`)}`;

export function tenancyRoutines(): RoutineDef[] {
  const internal = (name: string, summary: string, sql: string): RoutineDef =>
    ({ name, kind: 'FUNCTION', audience: 'internal', params: [], summary, sql });
  return [
    internal('zt_principal', 'the authenticated principal', `CREATE DEFINER=${DEFINER} FUNCTION zt_principal() RETURNS VARCHAR(32) CHARSET utf8mb4
  NOT DETERMINISTIC NO SQL SQL SECURITY DEFINER
  COMMENT 'user part of USER(): the authenticated client, also inside definer routines'
RETURN SUBSTRING_INDEX(USER(), '@', 1)`),
    internal('zt_ctx_mac', 'MAC binding a tenant to this connection, principal and server incarnation',
      `CREATE DEFINER=${DEFINER} FUNCTION zt_ctx_mac(p_tenant BINARY(16)) RETURNS BINARY(32)
  NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
  COMMENT 'H(k || H(k || msg)), msg = label, tenant, CONNECTION_ID(), USER(), incarnation'
BEGIN
  DECLARE v_k VARBINARY(64) DEFAULT (SELECT secret FROM zt_secrets WHERE name = 'tenant_ctx');
  DECLARE v_inc VARCHAR(80) DEFAULT zt_incarnation();
  IF v_k IS NULL OR LENGTH(v_k) < 32 THEN ${fail('ZT_INTERNAL: tenant context key missing')}; END IF;
  RETURN ${ctxMacSql('v_k', 'p_tenant', 'v_inc')};
END`),
    internal('zt_ctx_tenant', 'the tenant of this connection if the context is genuine and still allowed, else NULL',
      `CREATE DEFINER=${DEFINER} FUNCTION zt_ctx_tenant() RETURNS BINARY(16)
  NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
BEGIN
  DECLARE v_raw VARBINARY(64);
  DECLARE v_t BINARY(16);
  IF @zt_ctx IS NULL THEN RETURN NULL; END IF;
  SET v_raw = ${CTX_BYTES_SQL};
  IF v_raw IS NULL OR LENGTH(v_raw) <> 48 THEN RETURN NULL; END IF;
  SET v_t = SUBSTRING(v_raw, 1, 16);
  IF SUBSTRING(v_raw, 17, 32) <> zt_ctx_mac(v_t) THEN RETURN NULL; END IF;
  IF NOT EXISTS (SELECT 1 FROM tenant_principals WHERE tenant_id = v_t AND principal = zt_principal()) THEN RETURN NULL; END IF;
  RETURN v_t;
END`),
    internal('zt_require_tenant', 'zt_ctx_tenant() or ZT_NO_TENANT',
      `CREATE DEFINER=${DEFINER} FUNCTION zt_require_tenant() RETURNS BINARY(16)
  NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
BEGIN
  DECLARE v_t BINARY(16);
  SET v_t = zt_ctx_tenant();
  IF v_t IS NULL THEN ${fail('ZT_NO_TENANT: no authorised tenant on this connection; call security_set_tenant first')}; END IF;
  RETURN v_t;
END`),
    {
      name: 'security_set_tenant', kind: 'PROCEDURE', audience: 'app', params: [uuid('p_tenant_id')],
      summary: 'binds the connection to a tenant the authenticated principal is allowed',
      sql: `CREATE DEFINER=${DEFINER} PROCEDURE security_set_tenant(IN p_tenant_id VARCHAR(64))
  READS SQL DATA SQL SECURITY DEFINER
  COMMENT 'binds the connection to a tenant the authenticated principal is allowed'
BEGIN
  DECLARE v_t BINARY(16);
  SET @zt_ctx = NULL;
  ${validate(uuid('p_tenant_id')).join('\n  ').replace('v_tenant_id', 'v_t')}
  IF NOT EXISTS (SELECT 1 FROM tenant_principals WHERE tenant_id = v_t AND principal = zt_principal()) THEN
    ${fail('ZT_TENANT_DENIED: this principal may not act for that tenant')};
  END IF;
  SET @zt_ctx = HEX(CONCAT(v_t, zt_ctx_mac(v_t)));
END`,
    },
    {
      name: 'security_clear_tenant', kind: 'PROCEDURE', audience: 'app', params: [],
      summary: 'drops the tenant context (pools call this, or reset the connection, before reuse)',
      sql: `CREATE DEFINER=${DEFINER} PROCEDURE security_clear_tenant()
  NO SQL SQL SECURITY DEFINER
  COMMENT 'drops the tenant context of this connection'
BEGIN
  SET @zt_ctx = NULL;
END`,
    },
    {
      name: 'security_current_tenant', kind: 'PROCEDURE', audience: 'app', params: [],
      summary: 'one row: tenant_id (NULL when no valid context) and principal',
      sql: `CREATE DEFINER=${DEFINER} PROCEDURE security_current_tenant()
  READS SQL DATA SQL SECURITY DEFINER
  COMMENT 'the tenant bound to this connection, or NULL'
BEGIN
  SELECT BIN_TO_UUID(zt_ctx_tenant()) AS tenant_id, zt_principal() AS principal;
END`,
    },
  ];
}

const ROLE: Param = { kind: 'text', name: 'p_role', max: 32, pattern: '^[a-z][a-z0-9_]{0,31}$', what: 'lowercase [a-z][a-z0-9_]*' };
const CURRENCY: Param = { kind: 'text', name: 'p_currency', max: 3, pattern: '^[A-Z]{3}$', what: 'an ISO 4217 code (3 capital letters)' };
const KMS_NAME: Param = { kind: 'text', name: 'p_kms_key_name', max: 1024, pattern: '^[!-~]+$', what: 'printable ASCII without spaces' };
const PRINCIPAL: Param = { kind: 'text', name: 'p_principal', max: 32, pattern: '^[a-z][a-z0-9_]{0,31}$', what: 'a principal name [a-z][a-z0-9_]*' };
const TENANT_NAME: Param = { kind: 'text', name: 'p_name', max: 200, pattern: '^[^[:cntrl:]]+$', what: 'text without control characters' };
const overflow = (v: string, amount: string): string =>
  `IF ${v} > ${MAX_AMOUNT} - ${amount} THEN ${fail('ZT_AMOUNT_OVERFLOW: the balance would exceed 999999999999999.9999')}; END IF;`;

export function apiRoutines(): RoutineDef[] {
  const userCols = 'BIN_TO_UUID(u.id) AS user_id, u.role, u.name_ct, u.email_ct, u.phone_ct, BIN_TO_UUID(u.dek_id) AS dek_id, u.created_at';
  const keyCols = 'BIN_TO_UUID(k.dek_id) AS dek_id, k.wrapped_dek, k.kms_key_name, k.active, k.created_at, k.rotated_at';
  return [
    // ---------------- admin (owner)
    procedure({
      name: 'admin_create_tenant', audience: 'admin', tenant: false, tx: true,
      summary: 'creates a tenant (owner only)',
      params: [uuid('p_tenant_id'), TENANT_NAME],
      duplicate: 'ZT_DUPLICATE: a tenant with this id or name exists',
      body: ['INSERT INTO tenants (id, name) VALUES (v_tenant_id, p_name);'],
    }),
    procedure({
      name: 'admin_allow_principal', audience: 'admin', tenant: false, tx: true,
      summary: 'allows a principal to act for a tenant (owner only)',
      params: [uuid('p_tenant_id'), PRINCIPAL],
      duplicate: 'ZT_DUPLICATE: the principal is already allowed this tenant',
      body: [
        `IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = v_tenant_id) THEN ${fail('ZT_NOT_FOUND: no such tenant')}; END IF;`,
        'INSERT INTO tenant_principals (tenant_id, principal) VALUES (v_tenant_id, p_principal);',
      ],
    }),
    procedure({
      name: 'admin_disallow_principal', audience: 'admin', tenant: false, tx: true,
      summary: 'withdraws a principal from a tenant (owner only); takes effect on its next call',
      params: [uuid('p_tenant_id'), PRINCIPAL],
      body: [
        'DELETE FROM tenant_principals WHERE tenant_id = v_tenant_id AND principal = p_principal;',
        `IF ROW_COUNT() = 0 THEN ${fail('ZT_NOT_FOUND: the principal is not allowed this tenant')}; END IF;`,
      ],
    }),
    // ---------------- key vault (client SDK)
    procedure({
      name: 'app_key_put', audience: 'app', tenant: true, tx: true,
      summary: 'stores a new KMS-wrapped DEK for the tenant and makes it the active one',
      params: [uuid('p_dek_id'), { kind: 'wrapped', name: 'p_wrapped_dek' }, KMS_NAME],
      duplicate: 'ZT_DUPLICATE: this DEK id exists',
      body: [
        'UPDATE key_vault SET active = 0 WHERE tenant_id = v_tenant AND active = 1;',
        'INSERT INTO key_vault (tenant_id, dek_id, wrapped_dek, kms_key_name, active) VALUES (v_tenant, v_dek_id, p_wrapped_dek, p_kms_key_name, 1);',
      ],
    }),
    procedure({
      name: 'app_key_get', audience: 'app', tenant: true, tx: false,
      summary: "one of the tenant's DEKs by id (no row if it is not the tenant's)",
      params: [uuid('p_dek_id')],
      body: [`SELECT ${keyCols} FROM key_vault k WHERE k.tenant_id = v_tenant AND k.dek_id = v_dek_id;`],
    }),
    procedure({
      name: 'app_key_latest', audience: 'app', tenant: true, tx: false,
      summary: "the tenant's active DEK (no row if none)",
      params: [],
      body: [`SELECT ${keyCols} FROM key_vault k WHERE k.tenant_id = v_tenant AND k.active = 1;`],
    }),
    procedure({
      name: 'app_key_list', audience: 'app', tenant: true, tx: false,
      summary: "all of the tenant's DEKs, oldest first",
      params: [],
      body: [`SELECT ${keyCols} FROM key_vault k WHERE k.tenant_id = v_tenant ORDER BY k.created_at, k.dek_id;`],
    }),
    procedure({
      name: 'app_key_rewrap', audience: 'app', tenant: true, tx: true,
      summary: 'compare-and-set of a wrapped DEK (KEK rotation); one row: replaced = 1 or 0',
      params: [uuid('p_dek_id'), { kind: 'wrapped', name: 'p_expected' }, { kind: 'wrapped', name: 'p_next' }, KMS_NAME],
      declare: ['DECLARE v_n INT'],
      body: [
        'UPDATE key_vault SET wrapped_dek = p_next, kms_key_name = p_kms_key_name, rotated_at = NOW(6)',
        '  WHERE tenant_id = v_tenant AND dek_id = v_dek_id AND wrapped_dek = p_expected;',
        'SET v_n = ROW_COUNT();',
        'COMMIT;',
        'SELECT v_n AS replaced;',
      ],
    }),
    procedure({
      name: 'app_key_shred', audience: 'app', tenant: true, tx: true,
      summary: "crypto-shredding: deletes every DEK of the tenant; one row: shredded = count",
      params: [],
      declare: ['DECLARE v_n INT'],
      body: ['DELETE FROM key_vault WHERE tenant_id = v_tenant;', 'SET v_n = ROW_COUNT();', 'COMMIT;', 'SELECT v_n AS shredded;'],
    }),
    // ---------------- users
    procedure({
      name: 'app_create_user_encrypted', audience: 'app', tenant: 'dml', tx: true,
      summary: `creates a user; name/email/phone are envelope blobs (<= ${PII_MAX_PLAINTEXT} bytes of plaintext) under p_dek_id`,
      params: [uuid('p_user_id'), ROLE, { kind: 'envelope', name: 'p_name_ct' }, { kind: 'envelope', name: 'p_email_ct' },
        { kind: 'envelope', name: 'p_phone_ct', nullable: true }, uuid('p_dek_id')],
      dekParam: 'p_dek_id',
      duplicate: 'ZT_DUPLICATE: a user with this id exists',
      body: [
        // The hot path is one statement: the row is inserted only if the context is
        // genuine and the DEK is the tenant's (the context, principal and DEK rows are
        // share-locked until commit: the DEK cannot be shredded, nor the principal
        // withdrawn, meanwhile). No row: the slow path names the error (or, just after
        // a server start, finds the tenant without the per-boot cache and inserts).
        'INSERT INTO users (tenant_id, id, role, name_ct, email_ct, phone_ct, dek_id)',
        `  SELECT tp.tenant_id, v_user_id, p_role, p_name_ct, p_email_ct, p_phone_ct, k.dek_id ${ctxFromSql(
          '\n    JOIN key_vault k ON k.tenant_id = tp.tenant_id AND k.dek_id = v_dek_id')};`,
        'IF ROW_COUNT() = 0 THEN',
        '  SET v_tenant = zt_require_tenant();',
        '  INSERT INTO users (tenant_id, id, role, name_ct, email_ct, phone_ct, dek_id)',
        '    SELECT v_tenant, v_user_id, p_role, p_name_ct, p_email_ct, p_phone_ct, v_dek_id FROM key_vault k WHERE k.tenant_id = v_tenant AND k.dek_id = v_dek_id;',
        `  IF ROW_COUNT() = 0 THEN ${fail('ZT_DEK_UNKNOWN: p_dek_id is not a DEK of this tenant')}; END IF;`,
        'END IF;',
      ],
    }),
    procedure({
      name: 'app_get_user_encrypted', audience: 'app', tenant: true, tx: true,
      summary: "a user's encrypted fields; appends a READ event (committed before the row is returned)",
      params: [uuid('p_user_id')],
      body: [
        `${readEvent('role,name_ct,email_ct,phone_ct,dek_id')}`,
        '    FROM users u WHERE u.tenant_id = v_tenant AND u.id = v_user_id;',
        `IF ROW_COUNT() = 0 THEN ${fail('ZT_NOT_FOUND: no such user in this tenant')}; END IF;`,
        'COMMIT;',
        `SELECT ${userCols} FROM users u WHERE u.tenant_id = v_tenant AND u.id = v_user_id;`,
      ],
    }),
    procedure({
      name: 'app_list_users', audience: 'app', tenant: true, tx: true,
      summary: 'a page of users (id order, after p_after_user_id) with encrypted fields; one READ event per row',
      params: [uuid('p_after_user_id', true), { kind: 'limit', name: 'p_limit', max: 100 }],
      body: [
        // The page is locked (REPEATABLE READ next-key locks of INSERT ... SELECT)
        // while it is logged and returned, so every returned row has its event.
        `${readEvent('role,name_ct,email_ct,phone_ct,dek_id')}`,
        '    FROM users u WHERE u.tenant_id = v_tenant AND (v_after_user_id IS NULL OR u.id > v_after_user_id)',
        '    ORDER BY u.id LIMIT p_limit;',
        `SELECT ${userCols} FROM users u WHERE u.tenant_id = v_tenant AND (v_after_user_id IS NULL OR u.id > v_after_user_id)`,
        '  ORDER BY u.id LIMIT p_limit;',
      ],
    }),
    // ---------------- accounts and transfers
    procedure({
      name: 'app_open_account', audience: 'app', tenant: true, tx: true,
      summary: 'opens an account with balance 0 for a user of the tenant',
      params: [uuid('p_account_id'), uuid('p_user_id'), CURRENCY],
      duplicate: 'ZT_DUPLICATE: an account with this id exists',
      body: [
        `IF NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = v_tenant AND id = v_user_id FOR SHARE) THEN ${fail('ZT_NOT_FOUND: no such user in this tenant')}; END IF;`,
        'INSERT INTO accounts (tenant_id, id, user_id, balance, currency) VALUES (v_tenant, v_account_id, v_user_id, 0, p_currency);',
      ],
    }),
    procedure({
      name: 'app_deposit', audience: 'app', tenant: true, tx: true,
      summary: 'credits an account; recorded as a transfer of kind deposit',
      params: [uuid('p_transfer_id'), uuid('p_account_id'), { kind: 'amount', name: 'p_amount' }],
      declare: ['DECLARE v_bal DECIMAL(19,4)', 'DECLARE v_cur CHAR(3)'],
      duplicate: 'ZT_DUPLICATE: a transfer with this id exists',
      body: [
        'SELECT balance, currency INTO v_bal, v_cur FROM accounts WHERE tenant_id = v_tenant AND id = v_account_id FOR UPDATE;',
        `IF v_bal IS NULL THEN ${fail('ZT_NOT_FOUND: no such account in this tenant')}; END IF;`,
        overflow('v_bal', 'v_amount'),
        'UPDATE accounts SET balance = balance + v_amount, updated_at = NOW(6) WHERE tenant_id = v_tenant AND id = v_account_id;',
        "INSERT INTO transfers (tenant_id, id, kind, from_account_id, to_account_id, amount, currency) VALUES (v_tenant, v_transfer_id, 'deposit', NULL, v_account_id, v_amount, v_cur);",
      ],
    }),
    procedure({
      name: 'app_transfer', audience: 'app', tenant: true, tx: true,
      summary: 'moves an amount between two accounts of the tenant (same currency, no overdraft); rows locked in id order',
      params: [uuid('p_transfer_id'), uuid('p_from_account_id'), uuid('p_to_account_id'), { kind: 'amount', name: 'p_amount' }],
      declare: ['DECLARE v_from_bal DECIMAL(19,4)', 'DECLARE v_to_bal DECIMAL(19,4)', 'DECLARE v_from_cur CHAR(3)', 'DECLARE v_to_cur CHAR(3)'],
      duplicate: 'ZT_DUPLICATE: a transfer with this id exists',
      body: [
        `IF v_from_account_id = v_to_account_id THEN ${fail('ZT_SAME_ACCOUNT: source and destination are the same account')}; END IF;`,
        // Both rows locked in primary-key order, whatever the direction: no deadlock between opposite transfers.
        'IF v_from_account_id < v_to_account_id THEN',
        '  SELECT balance, currency INTO v_from_bal, v_from_cur FROM accounts WHERE tenant_id = v_tenant AND id = v_from_account_id FOR UPDATE;',
        '  SELECT balance, currency INTO v_to_bal, v_to_cur FROM accounts WHERE tenant_id = v_tenant AND id = v_to_account_id FOR UPDATE;',
        'ELSE',
        '  SELECT balance, currency INTO v_to_bal, v_to_cur FROM accounts WHERE tenant_id = v_tenant AND id = v_to_account_id FOR UPDATE;',
        '  SELECT balance, currency INTO v_from_bal, v_from_cur FROM accounts WHERE tenant_id = v_tenant AND id = v_from_account_id FOR UPDATE;',
        'END IF;',
        `IF v_from_bal IS NULL OR v_to_bal IS NULL THEN ${fail('ZT_NOT_FOUND: no such account in this tenant')}; END IF;`,
        `IF v_from_cur <> v_to_cur THEN ${fail('ZT_CURRENCY_MISMATCH: the accounts hold different currencies')}; END IF;`,
        `IF v_from_bal < v_amount THEN ${fail('ZT_INSUFFICIENT_FUNDS: the source balance is lower than the amount')}; END IF;`,
        overflow('v_to_bal', 'v_amount'),
        'UPDATE accounts SET balance = balance - v_amount, updated_at = NOW(6) WHERE tenant_id = v_tenant AND id = v_from_account_id;',
        'UPDATE accounts SET balance = balance + v_amount, updated_at = NOW(6) WHERE tenant_id = v_tenant AND id = v_to_account_id;',
        // Last on purpose: a reused transfer id fails here and rolls back both updates.
        "INSERT INTO transfers (tenant_id, id, kind, from_account_id, to_account_id, amount, currency) VALUES (v_tenant, v_transfer_id, 'transfer', v_from_account_id, v_to_account_id, v_amount, v_from_cur);",
      ],
    }),
  ];
}

export interface ViewDef {
  readonly name: string;
  readonly sql: string;
}

/**
 * Non-PII listings of the connection's tenant; empty without a valid context. The
 * context is evaluated once, in a one-row derived table joined on the primary-key
 * prefix (a function in WHERE would be evaluated per row of the whole table).
 */
export function views(): ViewDef[] {
  const v = (name: string, cols: string, table: string): ViewDef => ({
    name,
    sql: `CREATE OR REPLACE DEFINER=${DEFINER} SQL SECURITY DEFINER VIEW ${name} AS
SELECT ${cols}
FROM (SELECT zt_ctx_tenant() AS tid) ctx JOIN ${table} t ON t.tenant_id = ctx.tid`,
  });
  return [
    v('v_users', 'BIN_TO_UUID(t.id) AS user_id, t.role, BIN_TO_UUID(t.dek_id) AS dek_id, t.created_at', 'users'),
    v('v_accounts', 'BIN_TO_UUID(t.id) AS account_id, BIN_TO_UUID(t.user_id) AS user_id, t.balance, t.currency, t.created_at, t.updated_at', 'accounts'),
    v('v_transfers', 'BIN_TO_UUID(t.id) AS transfer_id, t.kind, BIN_TO_UUID(t.from_account_id) AS from_account_id, BIN_TO_UUID(t.to_account_id) AS to_account_id, t.amount, t.currency, t.created_at', 'transfers'),
  ];
}

export function allRoutines(): RoutineDef[] {
  return [...tenancyRoutines(), ...apiRoutines()];
}
