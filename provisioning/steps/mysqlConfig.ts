// MySQL server configuration: keyring (for binlog/redo/undo encryption), password
// validation and connection control components, the hardened option file, then a
// restart only when something changed, and a check that the server took it.
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { shq, sqlString } from '../shell';
import {
  COMPONENTS, CONFIG_FILE, ERROR_LOG, FORBIDDEN_OPTIONS, KEYRING_COMPONENT, KEYRING_DIR,
  SECURE_FILE_PRIV, hardenedVariables, renderMysqlOptionFile,
} from '../mysqlHardening';

export function mysqlConfigStep(s: ValidSettings): Step {
  const b = new StepBuilder('mysql-config', 'hardened MySQL configuration');
  const cnf = b.inline('ztmysql.cnf', renderMysqlOptionFile(s.hostAddress, s.mysqlPort));
  const manifest = b.inline('mysqld.my', JSON.stringify({ components: KEYRING_COMPONENT }) + '\n');
  const keyringCnf = b.inline('keyring.cnf', JSON.stringify({ path: `${KEYRING_DIR}/component_keyring_file`, read_only: false }) + '\n');
  const hardened = hardenedVariables(s.hostAddress, s.mysqlPort);
  const names = hardened.map((h) => sqlString(h.variable)).join(',');
  // What the running server must report, sorted as the query returns it.
  const expected = b.inline('expected.tsv', [...hardened].sort((x, y) => (x.variable < y.variable ? -1 : 1))
    .map((h) => `${h.variable}\t${h.expected}`).join('\n') + '\n');
  const running = b.inline('running.sql', `SELECT variable_name, variable_value FROM performance_schema.global_variables WHERE variable_name IN (${names}) ORDER BY variable_name;\n`);

  b.add(
    `zt_dir ${KEYRING_DIR} mysql mysql 0750`,
    // The packaged start script runs mysqld --help as root, which would create the
    // keyring file as root and leave mysqld unable to read it: create it as mysql first.
    // It holds the master key once written, so it is only ever re-owned, never removed.
    `zt_keyring=${KEYRING_DIR}/component_keyring_file`,
    `[ -e "$zt_keyring" ] || { install -o mysql -g mysql -m 0600 /dev/null "$zt_keyring"; zt_changed "created $zt_keyring"; }`,
    `zt_mode "$zt_keyring" mysql mysql 0600`,
    `if ! systemctl is-active --quiet mysql; then`,
    `  systemctl reset-failed mysql 2>/dev/null || true`,
    `  systemctl start mysql || zt_fail "mysql does not start; tail of the error log: $(tail -n 5 ${ERROR_LOG} 2>/dev/null)"`,
    `  zt_changed "started mysql"`,
    `fi`,
    `zt_wait_mysql 120`,
    `zt_before=$ZT_CHANGED; ZT_CHANGED=0`,
    `zt_dir ${SECURE_FILE_PRIV} mysql mysql 0700`,
    `case "$(stat -c %a /var/lib/mysql)" in 700|750) ;; *) chmod 0750 /var/lib/mysql; zt_changed "datadir mode 0750";; esac`,
    `zt_plugin_dir=$(zt_sql -e 'SELECT @@plugin_dir')`,
    `zt_place ${manifest} "$(dirname "$(readlink -f "$(command -v mysqld)")")/mysqld.my" root root 0644`,
    `zt_place ${keyringCnf} "\${zt_plugin_dir%/}/component_keyring_file.cnf" root root 0644`,
    `for zt_c in ${COMPONENTS.map(shq).join(' ')}; do`,
    `  if [ -z "$(zt_sql -e "SELECT 1 FROM mysql.component WHERE component_urn='$zt_c'")" ]; then`,
    `    zt_sql -e "INSTALL COMPONENT '$zt_c'"`,
    `    zt_changed "installed component $zt_c"`,
    `  fi`,
    `done`,
    `zt_place ${cnf} ${CONFIG_FILE} root mysql 0640`,
    `zt_effective=$(my_print_defaults mysqld server mysqld-9.7)`,
    `for zt_opt in ${FORBIDDEN_OPTIONS.map(shq).join(' ')}; do`,
    `  if printf '%s\\n' "$zt_effective" | grep -qi -- "^--$zt_opt"; then zt_fail "forbidden option --$zt_opt is set in the MySQL configuration"; fi`,
    `done`,
    `zt_persisted=$(zt_sql -e "SELECT variable_name FROM performance_schema.persisted_variables WHERE variable_name IN (${names})")`,
    `for zt_v in $zt_persisted; do zt_sql -e "RESET PERSIST IF EXISTS \\\`$zt_v\\\`"; zt_changed "removed persisted override of $zt_v"; done`,
    // Restart when this run changed something, or when the running server still
    // differs from the wanted values (a previous run may have stopped half-way).
    `zt_restart=$ZT_CHANGED`,
    `[ "$zt_before" = 1 ] && ZT_CHANGED=1`,
    `zt_sql < ${running} | LC_ALL=C sort > "$ZT_IN/running.tsv"`,
    `if ! cmp -s "$ZT_IN/running.tsv" <(LC_ALL=C sort ${expected}); then zt_restart=1; fi`,
    `if [ "$zt_restart" = 1 ]; then`,
    `  zt_changed "restarting mysql to apply the configuration"`,
    `  systemctl restart mysql || zt_fail "mysql did not restart; tail of the error log: $(tail -n 5 ${ERROR_LOG} 2>/dev/null)"`,
    `  zt_wait_mysql 180`,
    `fi`,
    `[ "$(zt_sql -e "SELECT STATUS_VALUE FROM performance_schema.keyring_component_status WHERE STATUS_KEY='Component_status'")" = Active ] || zt_fail "keyring component is not active"`,
    `if [ "$(zt_sql -e "SELECT ENCRYPTION FROM information_schema.INNODB_TABLESPACES WHERE NAME='mysql'")" != Y ]; then`,
    `  zt_sql -e "ALTER TABLESPACE mysql ENCRYPTION = 'Y'"`,
    `  zt_changed "encrypted the mysql system tablespace"`,
    `fi`,
    `zt_mode ${ERROR_LOG} mysql adm 0600`,
    `zt_sql < ${running} | LC_ALL=C sort > "$ZT_IN/running.tsv"`,
    `if ! cmp -s "$ZT_IN/running.tsv" <(LC_ALL=C sort ${expected}); then`,
    `  zt_fail "the running server differs from the hardened settings: $(diff <(LC_ALL=C sort ${expected}) "$ZT_IN/running.tsv" | grep '^[<>]' | tr '\\t\\n' '= ' | head -c 600)"`,
    `fi`,
    `zt_log "mysql $(zt_sql -e 'SELECT @@version') listening on ${s.hostAddress}:${s.mysqlPort}, TLSv1.3 only"`,
  );
  return b.build();
}
