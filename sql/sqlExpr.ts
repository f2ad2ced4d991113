// SQL expressions that build the canonical audit encoding (audit/format.ts) inside
// MySQL. Constant parts (column names, table names) are pre-encoded here as hex
// literals; values are encoded by expressions over NEW./OLD. columns.
import { encodeField, FieldType, textField } from '../audit/format';
import { AuditKind, ColumnSpec, TableSpec } from './tableSpecs';

export const DEFINER = '`ztmysql_definer`@`localhost`';
export const DEFINER_USER = 'ztmysql_definer';

/** X'..' literal of bytes. */
export const hexLit = (b: Buffer): string => `X'${b.toString('hex').toUpperCase()}'`;

/** u32be(n) in SQL. */
export const u32Sql = (n: string): string => `UNHEX(LPAD(HEX(${n}), 8, '0'))`;

/** One field: NULL -> type 0, length 0; otherwise type || u32be(len) || bytes. */
export function fieldSql(type: number, value: string, bytes: string): string {
  const t = hexLit(Buffer.from([type]));
  return `IF(${value} IS NULL, X'0000000000', CONCAT(${t}, ${u32Sql(`LENGTH(${bytes})`)}, ${bytes}))`;
}

const KIND: Record<AuditKind, { type: number; bytes: (v: string) => string }> = {
  uuid: { type: FieldType.UUID, bytes: (v) => v },
  text: { type: FieldType.TEXT, bytes: (v) => `CAST(${v} AS BINARY)` },
  int: { type: FieldType.INT, bytes: (v) => `CAST(CAST(${v} AS CHAR) AS BINARY)` },
  decimal: { type: FieldType.DECIMAL, bytes: (v) => `CAST(CAST(${v} AS CHAR) AS BINARY)` },
  datetime: { type: FieldType.DATETIME, bytes: (v) => `CAST(DATE_FORMAT(${v}, '%Y-%m-%d %H:%i:%s.%f') AS BINARY)` },
  digest: { type: FieldType.DIGEST, bytes: (v) => `UNHEX(SHA2(${v}, 256))` },
};

export const textFieldSql = (v: string): string => fieldSql(FieldType.TEXT, v, KIND.text.bytes(v));
export const bytesFieldSql = (v: string): string => fieldSql(FieldType.BYTES, v, v);
export const uuidFieldSql = (v: string): string => fieldSql(FieldType.UUID, v, v);
export const intFieldSql = (v: string): string => fieldSql(FieldType.INT, v, KIND.int.bytes(v));
export const datetimeFieldSql = (v: string): string => fieldSql(FieldType.DATETIME, v, KIND.datetime.bytes(v));

export function valueFieldSql(c: ColumnSpec, ref: string): string {
  const k = KIND[c.audit];
  return fieldSql(k.type, ref, k.bytes(ref));
}

// Compact forms of the same bytes for the per-write triggers. A stored program
// re-binds and evaluates every node of its expressions on each execution, so the
// fewer nodes the cheaper: a value that cannot be NULL needs no IF, and a value of
// fixed length has a constant length prefix, folded into the type byte's literal.

/** Byte length of a non-NULL value of this column's audit encoding, when it is fixed. */
function fixedLength(c: ColumnSpec): number | undefined {
  if (c.audit === 'digest') return 32;
  if (c.audit === 'uuid' && c.sqlType === 'BINARY(16)') return 16;
  if (c.audit === 'datetime' && c.sqlType === 'DATETIME(6)') return 26; // 'YYYY-MM-DD HH:MM:SS.ffffff'
  return undefined;
}

/** type || u32be(n) as one literal. */
const headerLit = (type: number, n: number): string => {
  const b = Buffer.alloc(5);
  b[0] = type;
  b.writeUInt32BE(n, 1);
  return hexLit(b);
};

/**
 * One field as CONCAT arguments (comma-separated), same bytes as fieldSql(): no NULL
 * branch when the value cannot be NULL (a NOT NULL column: a NULL there fails the
 * write anyway), a constant header when the length is fixed.
 */
export function compactFieldArgs(type: number, value: string, bytes: string, nullable: boolean, fixed?: number): string {
  const args = fixed === undefined ? `${hexLit(Buffer.from([type]))}, ${u32Sql(`LENGTH(${bytes})`)}, ${bytes}` : `${headerLit(type, fixed)}, ${bytes}`;
  return nullable ? `IF(${value} IS NULL, X'0000000000', CONCAT(${args}))` : args;
}

export function compactValueFieldArgs(c: ColumnSpec, ref: string): string {
  const k = KIND[c.audit];
  return compactFieldArgs(k.type, ref, k.bytes(ref), c.nullable, fixedLength(c));
}

export const compactTextArgs = (v: string, nullable: boolean): string => compactFieldArgs(FieldType.TEXT, v, KIND.text.bytes(v), nullable);
export const compactBytesArgs = (v: string, nullable: boolean): string => compactFieldArgs(FieldType.BYTES, v, v, nullable);
export const compactIntArgs = (v: string, nullable: boolean): string => compactFieldArgs(FieldType.INT, v, KIND.int.bytes(v), nullable);
/** Only for BINARY(16) values (always 16 bytes). */
export const compactUuidArgs = (v: string, nullable: boolean): string => compactFieldArgs(FieldType.UUID, v, v, nullable, 16);
/** Only for DATETIME(6) values (always 26 characters). */
export const compactDatetimeArgs = (v: string, nullable: boolean): string => compactFieldArgs(FieldType.DATETIME, v, KIND.datetime.bytes(v), nullable, 26);

/** Row image over the given columns: TEXT(name) || typed value, in spec order. */
export function imageSql(columns: readonly ColumnSpec[], rowRef: 'NEW' | 'OLD'): string {
  const parts = columns.map((c) => `${hexLit(encodeField(textField(c.name)))}, ${compactValueFieldArgs(c, `${rowRef}.\`${c.name}\``)}`);
  return `CONCAT(${parts.join(',\n    ')})`;
}

export function pkColumns(t: TableSpec): ColumnSpec[] {
  return t.primaryKey.map((n) => {
    const c = t.columns.find((x) => x.name === n);
    if (!c) throw new Error(`${t.name}: primary key column ${n} not declared`);
    return c;
  });
}

/** SQL string literal for a fixed text written by this code: quotes doubled, no backslashes or NULs. */
export function lit(s: string): string {
  if (/[\\\0]/.test(s)) throw new Error(`unsafe literal ${JSON.stringify(s)}`);
  return `'${s.replace(/'/g, "''")}'`;
}

export const ident = (s: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) throw new Error(`unsafe identifier ${JSON.stringify(s)}`);
  return `\`${s}\``;
};

/**
 * DROP and CREATE of a read-only, parameterless definer procedure as root runs it
 * (statements end with ';', the body between DELIMITER //): the anchor snapshot and
 * the verifier's state digests are both made this way.
 */
export function definerReadProcedureSql(schema: string, name: string, comment: string, body: readonly string[]): string[] {
  return [
    `DROP PROCEDURE IF EXISTS \`${schema}\`.${name};`,
    'DELIMITER //',
    `CREATE DEFINER=${DEFINER} PROCEDURE \`${schema}\`.${name}()`,
    '  READS SQL DATA SQL SECURITY DEFINER',
    `  COMMENT ${lit(comment)}`,
    'BEGIN',
    ...body,
    'END //',
    'DELIMITER ;',
  ];
}
