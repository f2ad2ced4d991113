// Quoting for the bash scripts the plan renders. Every value that reaches a script
// passes through shq(), so a setting can never become shell syntax.

/** Single-quotes a string for bash. */
export function shq(value: string | number): string {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/** SQL string literal with both quote and backslash escaped (default sql_mode). */
export function sqlString(value: string): string {
  if (value.includes('\0')) throw new Error('NUL byte in SQL string');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Backtick-quoted SQL identifier. */
export function sqlIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
