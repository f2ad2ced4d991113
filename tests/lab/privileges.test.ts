// Privilege matrix: as the app principal and as the auditor, every forbidden class of
// statement is refused with its error code and SQLSTATE; the grants are exactly the
// desired set; the definer is locked and holds no global privilege.
import { createReadStream } from 'node:fs';
import mysql from 'mysql2/promise';
import { APP_PROCEDURES, APP_VIEWS, AUDITOR_PROCEDURES, AUDITOR_TABLES } from '../../sql/grants';
import { connectAs, expectSqlError, rootSql, testOutputs } from './support/testLab';

type Case = [label: string, sql: string, code: string];
const TABLE = 'ER_TABLEACCESS_DENIED_ERROR';
const DB = 'ER_DBACCESS_DENIED_ERROR';
const SPECIFIC = 'ER_SPECIFIC_ACCESS_DENIED_ERROR';
const PROC = 'ER_PROCACCESS_DENIED_ERROR';

const common: Case[] = [
  ['SELECT base table', 'SELECT * FROM users', TABLE],
  ['INSERT base table', "INSERT INTO users (tenant_id) VALUES (X'00')", TABLE],
  ['UPDATE base table', 'UPDATE accounts SET balance = 0', TABLE],
  ['DELETE base table', 'DELETE FROM transfers', TABLE],
  ['SELECT key vault', 'SELECT * FROM key_vault', TABLE],
  ['SELECT secrets', 'SELECT * FROM zt_secrets', TABLE],
  ['SELECT mysql.user', 'SELECT * FROM mysql.user', TABLE],
  ['DDL CREATE TABLE', 'CREATE TABLE zz (i INT)', TABLE],
  ['DDL DROP TABLE', 'DROP TABLE users', TABLE],
  ['DDL ALTER TABLE', 'ALTER TABLE users ADD COLUMN x INT', TABLE],
  ['DDL CREATE VIEW', 'CREATE VIEW zz AS SELECT 1', TABLE],
  ['DDL CREATE DATABASE', 'CREATE DATABASE zz', DB],
  ['CREATE TEMPORARY TABLE', 'CREATE TEMPORARY TABLE zz (i INT)', DB],
  ['CREATE ROUTINE', 'CREATE PROCEDURE zz() BEGIN END', DB],
  ['CREATE USER', "CREATE USER zz IDENTIFIED BY 'Xx-12345678901234'", SPECIFIC],
  ['SELECT INTO OUTFILE', "SELECT 1 INTO OUTFILE '/var/lib/mysql-files/zz.txt'", SPECIFIC],
  ['SET GLOBAL', 'SET GLOBAL max_connections = 10', SPECIFIC],
  ['PROCESS', 'SHOW ENGINE INNODB STATUS', SPECIFIC],
  ['RELOAD', 'FLUSH PRIVILEGES', SPECIFIC],
  ['admin procedure', "CALL admin_create_tenant('00000000-0000-4000-8000-000000000000', 'x')", PROC],
  ['sealer procedure', 'CALL audit_seal()', PROC],
  ['internal function', 'SELECT zt_ctx_tenant()', PROC],
  ['GRANT routine', "GRANT EXECUTE ON PROCEDURE ztmysql.app_transfer TO 'auditor'@'%'", PROC],
];

const matrix: Record<'app' | 'auditor', Case[]> = {
  app: [
    ...common,
    ['SELECT audit table', 'SELECT * FROM audit_events LIMIT 1', TABLE],
    ['UPDATE audit table', "UPDATE audit_events SET actor = 'x'", TABLE],
    ['GRANT table', "GRANT SELECT ON ztmysql.v_users TO 'auditor'@'%'", TABLE],
  ],
  auditor: [
    ...common,
    ['SELECT app view', 'SELECT * FROM v_users', TABLE],
    ['CALL app procedure', 'CALL app_list_users(NULL, 1)', PROC],
    ['CALL set tenant', "CALL security_set_tenant('00000000-0000-4000-8000-000000000000')", PROC],
    ['UPDATE audit table', "UPDATE audit_events SET actor = 'x'", TABLE],
    ['INSERT audit table', "INSERT INTO audit_checkpoints (tree_size, root, frontier) VALUES (999999999, X'00', '')", TABLE],
    ['GRANT table', "GRANT SELECT ON ztmysql.audit_events TO 'app'@'%'", TABLE],
  ],
};

describe.each(['app', 'auditor'] as const)('privilege matrix as %s', (principal) => {
  let conn: mysql.Connection;
  beforeAll(async () => { conn = await connectAs(principal); });
  afterAll(async () => { await conn.end(); });

  test.each(matrix[principal])('%s is refused', async (_label, sql, code) => {
    await expectSqlError(conn.query(sql), { code, sqlState: '42000' });
  });

  test('LOAD DATA LOCAL is refused by the server', async () => {
    await expectSqlError(conn.query({ sql: "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE users", infileStreamFactory: () => createReadStream('/etc/hostname') } as mysql.QueryOptions),
      { code: 'ER_CLIENT_LOCAL_FILES_DISABLED', sqlState: '42000' });
  });
});

describe('grants are exactly the desired set', () => {
  const host = (): string => testOutputs().principals.app ? (JSON.parse(JSON.stringify(testOutputs())) as { lab: { clientAddress: string } }).lab.clientAddress : '';

  test('app: USAGE, EXECUTE on the API procedures, SELECT on the views', async () => {
    const rows = (await rootSql(`SHOW GRANTS FOR 'app'@'${host()}';`)).map((r) => r[0] as string);
    const expected = [
      `GRANT USAGE ON *.* TO \`app\`@\`${host()}\``,
      ...APP_VIEWS().map((v) => `GRANT SELECT ON \`ztmysql\`.\`${v}\` TO \`app\`@\`${host()}\``),
      ...APP_PROCEDURES().map((p) => `GRANT EXECUTE ON PROCEDURE \`ztmysql\`.\`${p}\` TO \`app\`@\`${host()}\``),
    ];
    expect(rows.sort()).toEqual(expected.sort());
  });

  test('auditor: USAGE, SELECT on the audit tables, EXECUTE on the two read-only verifier procedures', async () => {
    const rows = (await rootSql(`SHOW GRANTS FOR 'auditor'@'${host()}';`)).map((r) => r[0] as string);
    const expected = [`GRANT USAGE ON *.* TO \`auditor\`@\`${host()}\``,
      ...AUDITOR_TABLES.map((t) => `GRANT SELECT ON \`ztmysql\`.\`${t}\` TO \`auditor\`@\`${host()}\``),
      ...AUDITOR_PROCEDURES.map((p) => `GRANT EXECUTE ON PROCEDURE \`ztmysql\`.\`${p}\` TO \`auditor\`@\`${host()}\``)];
    expect(rows.sort()).toEqual(expected.sort());
  });

  test('the definer is locked, local only, and has no global privilege', async () => {
    expect(await rootSql("SELECT host, account_locked FROM mysql.user WHERE user = 'ztmysql_definer';")).toEqual([['localhost', 'Y']]);
    const grants = (await rootSql("SHOW GRANTS FOR 'ztmysql_definer'@'localhost';")).map((r) => r[0] as string);
    expect(grants[0]).toBe('GRANT USAGE ON *.* TO `ztmysql_definer`@`localhost`');
    // Schema-level DML for definer code; read-only on the status and grant tables
    // (the incarnation and the anchor step's fingerprint). Nothing global, no GRANT OPTION.
    for (const g of grants.slice(1)) {
      expect(g).toMatch(/^GRANT (SELECT, INSERT, UPDATE, DELETE, EXECUTE, EVENT, TRIGGER ON `ztmysql`\.\*|SELECT ON `performance_schema`\.`session_status`|SELECT ON `mysql`\.`(db|procs_priv|tables_priv)`) TO /);
      expect(g).not.toContain('WITH GRANT OPTION');
    }
  });
});
