// The data plane: schema, audit log, procedure API, tenancy, views, sealer and
// grants (sql/), applied as root over the local socket. Idempotent: the SQL is
// applied only when its digest or the server's schema fingerprint differs from the
// last application; "changed" means the fingerprint moved.
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { managedAccounts } from './accounts';
import { GrantAccount, definerAccountSql, globalPrivilegeCheckSql, revokeQuerySql } from '../../sql/grants';
import { expectedColumnsTsv, fingerprintQuery, renderDataPlaneSql, runningColumnsQuery, staleObjectsQuery } from '../../sql/render';

export const DATAPLANE_STATE = '/var/lib/ztmysql/dataplane.state';

export function dataplaneAccounts(s: ValidSettings): GrantAccount[] {
  return managedAccounts(s).map((a) => ({ user: a.user, host: a.host, role: a.principal.role }));
}

export function dataplaneStep(s: ValidSettings): Step {
  const b = new StepBuilder('dataplane', 'data plane: schema, audit log, procedure API, tenancy, grants');
  const accounts = dataplaneAccounts(s);
  const files = renderDataPlaneSql(s.database, accounts);
  const paths = files.map((f) => b.inline(f.name, f.sql));
  const definer = b.inline('definer.sql', definerAccountSql(s.database));
  const stale = b.inline('stale.sql', staleObjectsQuery(s.database));
  const revokes = b.inline('revokes.sql', revokeQuerySql(s.database, accounts));
  const globals = b.inline('globals.sql', globalPrivilegeCheckSql(accounts));
  const fingerprint = b.inline('fingerprint.sql', fingerprintQuery(s.database));
  const expectedCols = b.inline('columns.tsv', expectedColumnsTsv());
  const runningCols = b.inline('columns.sql', runningColumnsQuery(s.database));

  b.add(
    'zt_wait_mysql 120',
    `[ "$(zt_sql -e 'SELECT @@event_scheduler')" = ON ] || zt_fail "event_scheduler is not ON: the audit sealer cannot run (set event_scheduler=ON in the server configuration)"`,
    `[ -n "$(zt_sql -e "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${s.database}'")" ] || zt_fail "database ${s.database} does not exist (the accounts step creates it)"`,
    'zt_dir /var/lib/ztmysql root root 0700',
    `zt_src=$(cat ${paths.join(' ')} ${definer} ${stale} ${revokes} | sha256sum | cut -c1-64)`,
    `zt_fp_before=$(zt_sql < ${fingerprint} | sha256sum | cut -c1-64)`,
    `if [ "$(cat ${DATAPLANE_STATE} 2>/dev/null)" != "$zt_src $zt_fp_before" ]; then`,
    // The definer's password: 48 random bytes plus one character of each class the
    // STRONG policy asks for; substituted with bash builtins, used once, never stored.
    `  zt_sqltext=$(< ${definer}); zt_pw="$(head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=')Zz9#"`,
    '  printf \'%s\\n\' "${zt_sqltext//@@DEFINER_PASSWORD@@/$zt_pw}" | zt_sql > /dev/null || zt_fail "could not create the definer account"',
    '  unset zt_pw zt_sqltext',
    ...paths.map((p, i) => `  zt_sql < ${p} > /dev/null || zt_fail "applying ${files[i]?.name} failed"`),
    `  zt_sql < ${stale} > "$ZT_IN/drops.sql"`,
    `  if [ -s "$ZT_IN/drops.sql" ]; then zt_sql --database=${s.database} < "$ZT_IN/drops.sql"; zt_log "dropped $(wc -l < "$ZT_IN/drops.sql") stale routines/triggers/views/events"; fi`,
    `  zt_sql < ${revokes} > "$ZT_IN/revokes-run.sql"`,
    `  if [ -s "$ZT_IN/revokes-run.sql" ]; then zt_sql < "$ZT_IN/revokes-run.sql" > /dev/null; zt_log "revoked $(wc -l < "$ZT_IN/revokes-run.sql") privileges outside the desired set"; fi`,
    `  zt_fp_after=$(zt_sql < ${fingerprint} | sha256sum | cut -c1-64)`,
    `  printf '%s %s' "$zt_src" "$zt_fp_after" > ${DATAPLANE_STATE}`,
    `  [ "$zt_fp_before" = "$zt_fp_after" ] || zt_changed "data plane objects or grants updated"`,
    'fi',
    `zt_bad=$(zt_sql < ${globals} | tr '\\n' ';')`,
    `[ -z "$zt_bad" ] || zt_fail "app/auditor accounts hold privileges outside the data plane: $zt_bad"`,
    `if ! cmp -s <(LC_ALL=C sort ${expectedCols}) <(zt_sql < ${runningCols} | LC_ALL=C sort); then`,
    `  zt_fail "protected tables differ from sql/tableSpecs.ts (a column would escape the audit triggers): $(diff <(LC_ALL=C sort ${expectedCols}) <(zt_sql < ${runningCols} | LC_ALL=C sort) | grep '^[<>]' | tr '\\t\\n' '= ' | head -c 600)"`,
    'fi',
    `[ "$(zt_sql -e "SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${s.database}' AND EVENT_NAME = 'audit_sealer'")" = ENABLED ] || zt_fail "the audit sealer event is not enabled"`,
    `[ "$(zt_sql -e "SELECT account_locked FROM mysql.user WHERE user = 'ztmysql_definer' AND host = 'localhost'")" = Y ] || zt_fail "the definer account is not locked"`,
    `zt_log "data plane: $(zt_sql -e "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${s.database}'") routines, $(zt_sql -e "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${s.database}'") triggers, audit tree size $(zt_sql -e "SELECT MAX(tree_size) FROM ${s.database}.audit_checkpoints")"`,
  );
  return b.build();
}
