// The protected tables, declared once. The CREATE TABLE statements and the audit
// triggers are both generated from these specs, so a column cannot exist without
// being in every audit image (tests/unit/sql/tableSpecs.test.ts and the lab's
// information_schema comparison hold this).

/** How a column's value enters the audit images (docs/audit-log-format.md). */
export type AuditKind =
  | 'uuid' // BINARY(16), 16 raw bytes
  | 'text' // UTF-8 text
  | 'int' // integer, ASCII decimal
  | 'decimal' // DECIMAL, ASCII as MySQL prints it (fixed scale)
  | 'datetime' // DATETIME(6), 'YYYY-MM-DD HH:MM:SS.ffffff'
  | 'digest'; // large or secret-bearing bytes: SHA-256 of the value, never the value

export interface ColumnSpec {
  readonly name: string;
  readonly sqlType: string;
  readonly nullable: boolean;
  readonly audit: AuditKind;
  /** Column default or generated clause, appended verbatim after the type/nullability. */
  readonly extra?: string;
}

export interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  readonly primaryKey: readonly string[];
  /** The column holding the owning tenant (null for none). */
  readonly tenantColumn: string | null;
  /** Further table elements: UNIQUE keys, indexes, foreign keys, CHECK constraints. */
  readonly constraints: readonly string[];
  readonly comment: string;
}

const col = (name: string, sqlType: string, audit: AuditKind, nullable = false, extra?: string): ColumnSpec =>
  ({ name, sqlType, nullable, audit, extra });

/** Envelope blob limit for a PII field: 1024 bytes of plaintext + 48 bytes of envelope. */
export const PII_MAX_PLAINTEXT = 1024;
export const PII_BLOB_MAX = PII_MAX_PLAINTEXT + 48;
export const ENVELOPE_MIN = 48;
/** serializeWrappedKey() output: header + key name/version (<= 1024 bytes each) + payload (<= 16 KiB). */
export const WRAPPED_DEK_MAX = 20480;

const created = col('created_at', 'DATETIME(6)', 'datetime', false, 'DEFAULT CURRENT_TIMESTAMP(6)');

export const TABLE_SPECS: readonly TableSpec[] = [
  {
    name: 'tenants',
    comment: 'tenants; created by the owner through admin_create_tenant',
    columns: [
      col('id', 'BINARY(16)', 'uuid'),
      col('name', 'VARCHAR(200)', 'text'),
      created,
    ],
    primaryKey: ['id'],
    tenantColumn: 'id',
    constraints: ['UNIQUE KEY uq_tenants_name (name)'],
  },
  {
    name: 'tenant_principals',
    comment: 'which MySQL principal (user name) may act for which tenant',
    columns: [
      col('tenant_id', 'BINARY(16)', 'uuid'),
      col('principal', 'VARCHAR(32)', 'text'),
      created,
    ],
    primaryKey: ['tenant_id', 'principal'],
    tenantColumn: 'tenant_id',
    constraints: [
      'KEY ix_tp_principal (principal)',
      'CONSTRAINT fk_tp_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)',
    ],
  },
  {
    name: 'key_vault',
    comment: 'per-tenant DEKs, wrapped by the KMS; the database never holds an unwrapped key',
    columns: [
      col('tenant_id', 'BINARY(16)', 'uuid'),
      col('dek_id', 'BINARY(16)', 'uuid'),
      // The wrapped DEK enters the audit log only as its SHA-256: crypto-shredding
      // deletes the row, and an immutable log must not keep a copy.
      col('wrapped_dek', `VARBINARY(${WRAPPED_DEK_MAX})`, 'digest'),
      col('kms_key_name', 'VARCHAR(1024)', 'text'),
      col('active', 'TINYINT', 'int'),
      col('active_tenant', 'BINARY(16)', 'uuid', true, 'GENERATED ALWAYS AS (IF(active = 1, tenant_id, NULL)) STORED'),
      created,
      col('rotated_at', 'DATETIME(6)', 'datetime', true),
    ],
    primaryKey: ['tenant_id', 'dek_id'],
    tenantColumn: 'tenant_id',
    constraints: [
      'UNIQUE KEY uq_kv_one_active (active_tenant)',
      'CONSTRAINT ck_kv_active CHECK (active IN (0, 1))',
      'CONSTRAINT fk_kv_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)',
    ],
  },
  {
    name: 'users',
    comment: 'users; PII only as envelope ciphertext (docs/envelope-format.md)',
    columns: [
      col('tenant_id', 'BINARY(16)', 'uuid'),
      col('id', 'BINARY(16)', 'uuid'),
      col('role', 'VARCHAR(32)', 'text'),
      col('name_ct', `VARBINARY(${PII_BLOB_MAX})`, 'digest'),
      col('email_ct', `VARBINARY(${PII_BLOB_MAX})`, 'digest'),
      col('phone_ct', `VARBINARY(${PII_BLOB_MAX})`, 'digest', true),
      col('dek_id', 'BINARY(16)', 'uuid'),
      created,
    ],
    primaryKey: ['tenant_id', 'id'],
    tenantColumn: 'tenant_id',
    constraints: [
      // No foreign key to key_vault: crypto-shredding deletes the DEKs and leaves the
      // ciphertext behind, undecryptable. The write procedures check the DEK exists.
      'CONSTRAINT fk_users_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)',
    ],
  },
  {
    name: 'accounts',
    comment: 'accounts and balances',
    columns: [
      col('tenant_id', 'BINARY(16)', 'uuid'),
      col('id', 'BINARY(16)', 'uuid'),
      col('user_id', 'BINARY(16)', 'uuid'),
      col('balance', 'DECIMAL(19,4)', 'decimal'),
      col('currency', 'CHAR(3)', 'text'),
      created,
      col('updated_at', 'DATETIME(6)', 'datetime', false, 'DEFAULT CURRENT_TIMESTAMP(6)'),
    ],
    primaryKey: ['tenant_id', 'id'],
    tenantColumn: 'tenant_id',
    constraints: [
      'KEY ix_accounts_user (tenant_id, user_id)',
      'CONSTRAINT fk_accounts_user FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)',
      'CONSTRAINT ck_accounts_balance CHECK (balance >= 0)',
    ],
  },
  {
    name: 'transfers',
    comment: 'deposits and transfers between accounts of one tenant',
    columns: [
      col('tenant_id', 'BINARY(16)', 'uuid'),
      col('id', 'BINARY(16)', 'uuid'),
      col('kind', 'VARCHAR(16)', 'text'),
      col('from_account_id', 'BINARY(16)', 'uuid', true),
      col('to_account_id', 'BINARY(16)', 'uuid'),
      col('amount', 'DECIMAL(19,4)', 'decimal'),
      col('currency', 'CHAR(3)', 'text'),
      created,
    ],
    primaryKey: ['tenant_id', 'id'],
    tenantColumn: 'tenant_id',
    constraints: [
      'KEY ix_transfers_from (tenant_id, from_account_id)',
      'KEY ix_transfers_to (tenant_id, to_account_id)',
      'CONSTRAINT fk_transfers_from FOREIGN KEY (tenant_id, from_account_id) REFERENCES accounts (tenant_id, id)',
      'CONSTRAINT fk_transfers_to FOREIGN KEY (tenant_id, to_account_id) REFERENCES accounts (tenant_id, id)',
      'CONSTRAINT ck_transfers_amount CHECK (amount > 0)',
      "CONSTRAINT ck_transfers_kind CHECK (kind IN ('deposit', 'transfer'))",
    ],
  },
];

export function tableSpec(name: string): TableSpec {
  const t = TABLE_SPECS.find((s) => s.name === name);
  if (!t) throw new Error(`no table spec ${name}`);
  return t;
}
