// One MySQL account per principal and client range, each bound to its certificate
// (REQUIRE SUBJECT ... AND ISSUER ...) and a STRONG password. Root stays on the
// local socket; anonymous users, remote root and the test schema are removed.
// Change detection: a digest of the grant tables before and after.
import { caName, mysqlDn, principalName } from '../pkiNames';
import { mysqlHostPattern } from '../cidr';
import { PrincipalSpec, ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { shq, sqlIdent, sqlString } from '../shell';

export const ACCOUNT_STATE_DIR = '/var/lib/ztmysql/accounts';
export const passwordInput = (principal: string): string => `password.${principal}`;

export interface ManagedAccount {
  readonly principal: PrincipalSpec;
  readonly user: string;
  readonly host: string;
  readonly subject: string;
  readonly issuer: string;
}

export function managedAccounts(s: ValidSettings): ManagedAccount[] {
  const issuer = mysqlDn(caName(s.organization, s.deploymentName));
  return s.principals.flatMap((p) => s.clientRanges.map((r) => ({
    principal: p, user: p.name, host: mysqlHostPattern(r),
    subject: mysqlDn(principalName(s.organization, p.name)), issuer,
  })));
}

/** Database privileges per role for this stage; the data-plane SQL narrows app and auditor further. */
export function rolePrivileges(role: PrincipalSpec['role']): string | undefined {
  return role === 'owner' ? 'ALL PRIVILEGES' : undefined;
}

const account = (a: ManagedAccount): string => `${sqlString(a.user)}@${sqlString(a.host)}`;

export function accountsStep(s: ValidSettings): Step {
  const b = new StepBuilder('accounts', 'principal accounts bound to client certificates');
  const accounts = managedAccounts(s);
  const pwPaths = new Map(s.principals.map((p) => [p.name, b.input({ name: passwordInput(p.name), kind: 'password', secret: true })]));
  const desired = accounts.map((a) => `(${sqlString(a.user)},${sqlString(a.host)})`).join(',');

  const cleanup = b.inline('cleanup.sql', [
    `SELECT CONCAT('DROP USER ', QUOTE(user), '@', QUOTE(host), ';') FROM mysql.user`,
    `  WHERE user = '' OR (user = 'root' AND host <> 'localhost')`,
    `  OR (JSON_UNQUOTE(JSON_EXTRACT(User_attributes, '$.metadata.managed_by')) = 'ztmysql' AND (user, host) NOT IN (${desired}));`,
    '',
  ].join('\n'));
  const fingerprint = b.inline('fingerprint.sql', [
    'SELECT * FROM mysql.user ORDER BY user, host;',
    'SELECT * FROM mysql.db ORDER BY host, db, user;',
    'SELECT * FROM mysql.global_grants ORDER BY user, host, priv;',
    'SELECT * FROM mysql.tables_priv ORDER BY host, db, user, table_name;',
    'SELECT schema_name FROM information_schema.schemata ORDER BY schema_name;',
    '',
  ].join('\n'));
  const insecure = b.inline('insecure.sql', [
    `SELECT CONCAT(user, '@', host) FROM mysql.user`,
    `  WHERE host NOT IN ('localhost', '127.0.0.1', '::1') AND (ssl_type <> 'SPECIFIED' OR x509_subject = '' OR x509_issuer = '')`,
    `  ORDER BY user, host;`,
    '',
  ].join('\n'));

  const statements: string[] = [
    `CREATE DATABASE IF NOT EXISTS ${sqlIdent(s.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin;`,
    'DROP DATABASE IF EXISTS test;',
  ];
  for (const a of accounts) {
    const attrs = sqlString(JSON.stringify({ managed_by: 'ztmysql', principal: a.user, role: a.principal.role }));
    const requireClause = `REQUIRE SUBJECT ${sqlString(a.subject)} AND ISSUER ${sqlString(a.issuer)}`;
    statements.push(
      `CREATE USER IF NOT EXISTS ${account(a)} IDENTIFIED WITH caching_sha2_password BY '@@PASSWORD_${a.user}@@' ${requireClause} ATTRIBUTE ${attrs};`,
      `ALTER USER ${account(a)} ${requireClause} ACCOUNT UNLOCK;`,
    );
    const privs = rolePrivileges(a.principal.role);
    if (privs) statements.push(`GRANT ${privs} ON ${sqlIdent(s.database)}.* TO ${account(a)};`);
  }
  const accountsSql = b.inline('accounts.sql', statements.join('\n') + '\n');

  b.add(
    `zt_wait_mysql 120`,
    `zt_dir /var/lib/ztmysql root root 0700`,
    `zt_dir ${ACCOUNT_STATE_DIR} root root 0700`,
    `[ "$(zt_sql -e "SELECT plugin FROM mysql.user WHERE user='root' AND host='localhost'")" = auth_socket ] || zt_fail "root@localhost must authenticate with auth_socket (local socket only)"`,
    `zt_fp_before=$(zt_sql < ${fingerprint} | sha256sum)`,
    // Passwords are substituted into a private copy of the SQL; the alphabet check
    // (no quotes, backslashes or spaces) makes them safe inside a string literal.
    // Substitution uses bash builtins only, so no password ever appears in an argv.
    `zt_sqltext=$(< ${accountsSql})`,
    ...s.principals.map((p) => [
      `zt_pw=$(< ${pwPaths.get(p.name)})`,
      `[[ "$zt_pw" =~ ^[A-Za-z0-9!#%+,.:=?@^_~-]{14,128}$ ]] || zt_fail "password for ${p.name} uses characters outside the allowed set"`,
      `zt_sqltext=\${zt_sqltext//@@PASSWORD_${p.name}@@/$zt_pw}`,
    ].join('\n')),
    `unset zt_pw`,
    `printf '%s\\n' "$zt_sqltext" | zt_sql || zt_fail "account statements failed"`,
    `unset zt_sqltext`,
    // A changed password is applied only when its digest differs from the last one applied.
    ...accounts.map((a) => [
      `zt_state=${ACCOUNT_STATE_DIR}/${shq(`${a.user}@${a.host}`.replace(/[^A-Za-z0-9@._-]/g, '_'))}.pw.sha256`,
      `zt_digest=$(printf '%s:' ${shq(a.user)} | cat - ${pwPaths.get(a.user)} | sha256sum | cut -c1-64)`,
      `if [ "$(cat "$zt_state" 2>/dev/null)" != "$zt_digest" ]; then`,
      `  if [ -f "$zt_state" ]; then`,
      `    printf "ALTER USER ${account(a).replace(/%/g, '%%')} IDENTIFIED BY '%s';\\n" "$(< ${pwPaths.get(a.user)})" | zt_sql || zt_fail "password change for ${a.user} refused"`,
      `    zt_changed "password of ${a.user}@${a.host} rotated"`,
      `  fi`,
      `  printf '%s' "$zt_digest" > "$zt_state"`,
      `fi`,
    ].join('\n')),
    `zt_sql < ${cleanup} > "$ZT_IN/drops.sql"`,
    `if [ -s "$ZT_IN/drops.sql" ]; then zt_sql < "$ZT_IN/drops.sql"; zt_changed "dropped $(wc -l < "$ZT_IN/drops.sql") stale or unsafe accounts"; fi`,
    `zt_bad=$(zt_sql < ${insecure} | tr '\\n' ' ')`,
    `[ -z "$zt_bad" ] || zt_fail "remote accounts without REQUIRE SUBJECT/ISSUER exist: $zt_bad- remove them or manage them as principals"`,
    `zt_fp_after=$(zt_sql < ${fingerprint} | sha256sum)`,
    `[ "$zt_fp_before" = "$zt_fp_after" ] || zt_changed "accounts or grants updated (${accounts.length} managed accounts)"`,
    `zt_log "${accounts.length} managed accounts: ${accounts.map((a) => `${a.user}@${a.host}`).join(' ')}"`,
  );
  return b.build();
}
