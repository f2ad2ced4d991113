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

/** Row image over the given columns: TEXT(name) || typed value, in spec order. */
export function imageSql(columns: readonly ColumnSpec[], rowRef: 'NEW' | 'OLD'): string {
  const parts = columns.map((c) => `${hexLit(encodeField(textField(c.name)))}, ${valueFieldSql(c, `${rowRef}.\`${c.name}\``)}`);
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
