// Least privilege: the locked definer owns every routine, view and trigger; the app
// principal may EXECUTE the API and SELECT the tenant views, nothing else; the
// auditor may SELECT the audit tables, nothing else. The owner is left as the
// accounts step made it.
import { ANCHOR_SNAPSHOT_PROCEDURE } from './anchorSnapshot';
import { STATE_PROCEDURE } from './stateDigests';
import { allRoutines, views } from './api';
import { AUDIT_TABLES, PENDING_TABLE } from './schema';
import { DEFINER, DEFINER_USER, ident } from './sqlExpr';

export interface GrantAccount {
  readonly user: string;
  readonly host: string;
  readonly role: 'owner' | 'app' | 'auditor';
}

const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const acct = (a: GrantAccount): string => `${q(a.user)}@${q(a.host)}`;

export const APP_PROCEDURES = (): string[] => allRoutines().filter((r) => r.audience === 'app').map((r) => r.name);
export const APP_VIEWS = (): string[] => views().map((v) => v.name);
/** Read-only definer procedures the verifier calls: the fingerprint/checkpoint snapshot and the state digests. */
export const AUDITOR_PROCEDURES: readonly string[] = [ANCHOR_SNAPSHOT_PROCEDURE, STATE_PROCEDURE];
export const AUDITOR_TABLES: readonly string[] = [...AUDIT_TABLES, PENDING_TABLE];

/**
 * Creates the definer (a random password generated on the host and never kept: the
 * account is locked and only ever used as DEFINER), locks
 * it and grants what definer code needs, before any object names it as DEFINER.
 */
export function definerAccountSql(database: string): string {
  return [
    `CREATE USER IF NOT EXISTS ${DEFINER} IDENTIFIED WITH caching_sha2_password BY '@@DEFINER_PASSWORD@@'`,
    `  ACCOUNT LOCK ATTRIBUTE '{"managed_by": "ztmysql-dataplane", "role": "definer"}';`,
    `ALTER USER ${DEFINER} ACCOUNT LOCK;`,
    ...definerGrantsSql(database).map((g) => `${g};`),
    '',
  ].join('\n');
}

export function definerGrantsSql(database: string): string[] {
  return [
    `GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER, EVENT ON ${ident(database)}.* TO ${DEFINER}`,
    `GRANT SELECT ON performance_schema.session_status TO ${DEFINER}`,
  ];
}

/** GRANTs of the desired state (idempotent). */
export function principalGrantsSql(database: string, accounts: readonly GrantAccount[]): string[] {
  const db = ident(database);
  const out: string[] = [];
  for (const a of accounts) {
    if (a.role === 'app') {
      for (const p of APP_PROCEDURES()) out.push(`GRANT EXECUTE ON PROCEDURE ${db}.${ident(p)} TO ${acct(a)}`);
      for (const v of APP_VIEWS()) out.push(`GRANT SELECT ON ${db}.${ident(v)} TO ${acct(a)}`);
    } else if (a.role === 'auditor') {
      for (const t of AUDITOR_TABLES) out.push(`GRANT SELECT ON ${db}.${ident(t)} TO ${acct(a)}`);
      for (const p of AUDITOR_PROCEDURES) out.push(`GRANT EXECUTE ON PROCEDURE ${db}.${ident(p)} TO ${acct(a)}`);
    }
  }
  return out;
}

/**
 * A query whose output is the REVOKE statements for every app/auditor privilege
 * outside the desired set (schema-, table-, column- and routine-level).
 */
export function revokeQuerySql(database: string, accounts: readonly GrantAccount[]): string {
  const managed = accounts.filter((a) => a.role !== 'owner');
  if (!managed.length) return 'SELECT 1 FROM DUAL WHERE FALSE;\n';
  const pairs = (role: GrantAccount['role']): string => {
    const xs = managed.filter((a) => a.role === role).map((a) => `(${q(a.user)}, ${q(a.host)})`);
    return xs.length ? xs.join(', ') : "('', '')";
  };
  const list = (xs: readonly string[]): string => xs.map(q).join(', ');
  const all = `(${pairs('app')}, ${pairs('auditor')})`;
  const who = "QUOTE(User), '@', QUOTE(Host)";
  return [
    `SELECT CONCAT('REVOKE IF EXISTS ALL PRIVILEGES ON \`', REPLACE(Db, '\`', '\`\`'), '\`.* FROM ', ${who}, ';') FROM mysql.db WHERE (User, Host) IN ${all};`,
    `SELECT CONCAT('REVOKE IF EXISTS GRANT OPTION ON \`', REPLACE(Db, '\`', '\`\`'), '\`.* FROM ', ${who}, ';') FROM mysql.db WHERE (User, Host) IN ${all} AND Grant_priv = 'Y';`,
    `SELECT CONCAT('REVOKE IF EXISTS ALL PRIVILEGES, GRANT OPTION ON \`', REPLACE(Db, '\`', '\`\`'), '\`.\`', REPLACE(Table_name, '\`', '\`\`'), '\` FROM ', ${who}, ';')`,
    `  FROM mysql.tables_priv WHERE (User, Host) IN ${all} AND NOT (`,
    `    Db = ${q(database)} AND Table_priv = 'Select' AND Column_priv = '' AND (`,
    `      ((User, Host) IN (${pairs('app')}) AND Table_name IN (${list(APP_VIEWS())}))`,
    `      OR ((User, Host) IN (${pairs('auditor')}) AND Table_name IN (${list(AUDITOR_TABLES)}))));`,
    `SELECT CONCAT('REVOKE IF EXISTS EXECUTE, ALTER ROUTINE, GRANT OPTION ON ', Routine_type, ' \`', REPLACE(Db, '\`', '\`\`'), '\`.\`', REPLACE(Routine_name, '\`', '\`\`'), '\` FROM ', ${who}, ';')`,
    `  FROM mysql.procs_priv WHERE (User, Host) IN ${all} AND NOT (`,
    `    Db = ${q(database)} AND Routine_type = 'PROCEDURE' AND Proc_priv = 'Execute' AND (`,
    `      ((User, Host) IN (${pairs('app')}) AND Routine_name IN (${list(APP_PROCEDURES())}))`,
    `      OR ((User, Host) IN (${pairs('auditor')}) AND Routine_name IN (${list(AUDITOR_PROCEDURES)}))));`,
    '',
  ].join('\n');
}

/** A query listing global privileges or roles the app/auditor accounts must not have (the step fails on any). */
export function globalPrivilegeCheckSql(accounts: readonly GrantAccount[]): string {
  const managed = accounts.filter((a) => a.role !== 'owner');
  if (!managed.length) return 'SELECT 1 FROM DUAL WHERE FALSE;\n';
  const all = `(${managed.map((a) => `(${q(a.user)}, ${q(a.host)})`).join(', ')})`;
  const privCols = ['Select_priv', 'Insert_priv', 'Update_priv', 'Delete_priv', 'Create_priv', 'Drop_priv', 'Reload_priv', 'Shutdown_priv',
    'Process_priv', 'File_priv', 'Grant_priv', 'References_priv', 'Index_priv', 'Alter_priv', 'Show_db_priv', 'Super_priv',
    'Create_tmp_table_priv', 'Lock_tables_priv', 'Execute_priv', 'Repl_slave_priv', 'Repl_client_priv', 'Create_view_priv',
    'Show_view_priv', 'Create_routine_priv', 'Alter_routine_priv', 'Create_user_priv', 'Event_priv', 'Trigger_priv',
    'Create_tablespace_priv', 'Create_role_priv', 'Drop_role_priv'];
  return [
    `SELECT CONCAT(User, '@', Host, ' has global privileges') FROM mysql.user WHERE (User, Host) IN ${all}`,
    `  AND 'Y' IN (${privCols.join(', ')});`,
    `SELECT CONCAT(User, '@', Host, ' has global ', PRIV) FROM mysql.global_grants WHERE (User, Host) IN ${all};`,
    `SELECT CONCAT(TO_USER, '@', TO_HOST, ' has role ', FROM_USER) FROM mysql.role_edges WHERE (TO_USER, TO_HOST) IN ${all};`,
    '',
  ].join('\n');
}

export { DEFINER_USER };
