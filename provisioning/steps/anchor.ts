// The anchor service: every 60 s a hardened systemd timer logs the latest audit
// checkpoint, the fingerprint of the audit machinery and the server identity as one
// JSON syslog line. rsyslog writes it to its own file (read by the Ops Agent on GCP,
// shipped to Cloud Logging and on to the retention-locked bucket) and, where a
// collector is configured (the lab), forwards it there over TCP.
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { ANCHOR_LOG_ID } from '../../audit/anchorRecord';
import { ANCHOR_SNAPSHOT_PROCEDURE } from '../../sql/anchorSnapshot';

export const ANCHOR_USER = 'ztmysql-anchor';
export const ANCHOR_DB_USER = 'ztmysql_anchor';
export const ANCHOR_SCRIPT = '/usr/local/lib/ztmysql/anchor.sh';
export const ANCHOR_LOG_FILE = '/var/log/ztmysql/anchor.log';
export const ANCHOR_CLIENT_CNF = '/etc/ztmysql/anchor-client.cnf';
/** Installed by the dataplane step (sql/anchorSnapshot.ts); the anchor account may only EXECUTE it. */
export const ANCHOR_PROCEDURE = ANCHOR_SNAPSHOT_PROCEDURE;

export interface AnchorForward {
  readonly host: string;
  readonly port: number;
}

export function renderAnchorScript(database: string): string {
  return `#!/bin/bash
# ztmysql anchor: one JSON line to syslog (tag ${ANCHOR_LOG_ID}) with the latest checkpoint.
set -euo pipefail
row=$(mysql --defaults-file=${ANCHOR_CLIENT_CNF} --protocol=socket --batch --skip-column-names \\
  -e "CALL \\\`${database}\\\`.${ANCHOR_PROCEDURE}()")
IFS=$'\\t' read -r server_uuid incarnation tree_size root checkpoint_hash sealed_at fingerprint <<< "$row"
[ -n "\${fingerprint:-}" ] || { echo "anchor: no snapshot from ${ANCHOR_PROCEDURE}" >&2; exit 1; }
# The per-host anchor counter lives in the service's state directory (StateDirectory=).
seq_file="\${STATE_DIRECTORY:-/var/lib/ztmysql-anchor}/anchor_seq"
anchor_seq=$(( $(cat "$seq_file" 2>/dev/null || echo 0) + 1 ))
printf '%d\\n' "$anchor_seq" > "$seq_file.new" && mv -f "$seq_file.new" "$seq_file"
printf '{"ztmysql_anchor_version":1,"server_uuid":"%s","incarnation":"%s","hostname":"%s","tree_size":%d,"root":"%s","checkpoint_hash":"%s","sealed_at":"%s","schema_fingerprint":"%s","emitted_at":"%s","anchor_seq":%d}\\n' \\
  "$server_uuid" "$incarnation" "$(hostname)" "$tree_size" "$root" "$checkpoint_hash" "$sealed_at" "$fingerprint" \\
  "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$anchor_seq" | logger --tag ${ANCHOR_LOG_ID} --priority local0.notice
`;
}

export function renderAnchorUnits(): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=ztmysql audit anchor (log the latest checkpoint)
After=mysql.service
Requires=mysql.service

[Service]
Type=oneshot
User=${ANCHOR_USER}
Group=${ANCHOR_USER}
ExecStart=${ANCHOR_SCRIPT}
StateDirectory=ztmysql-anchor
StateDirectoryMode=0700
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_UNIX
RestrictNamespaces=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0077
`,
    timer: `[Unit]
Description=ztmysql audit anchor every 60 s

[Timer]
OnBootSec=30s
OnUnitActiveSec=60s
AccuracySec=1s
Persistent=true

[Install]
WantedBy=timers.target
`,
  };
}

export function renderRsyslogRule(forward?: AnchorForward): string {
  const lines = [
    '# Managed by ztmysql provisioning: anchor lines to their own file (Ops Agent input)',
    `template(name="ztmysqlAnchorFile" type="string" string="%msg:2:$%\\n")`,
    `template(name="ztmysqlAnchorForward" type="string" string="{\\"ts\\":\\"%timereported:::date-rfc3339%\\",\\"host\\":\\"%hostname%\\",\\"tag\\":\\"%programname%\\",\\"msg\\":\\"%msg:::json%\\"}\\n")`,
    `if $programname == '${ANCHOR_LOG_ID}' then {`,
    `  action(type="omfile" file="${ANCHOR_LOG_FILE}" template="ztmysqlAnchorFile" fileCreateMode="0640")`,
  ];
  if (forward) {
    lines.push(`  action(type="omfwd" target="${forward.host}" port="${forward.port}" protocol="tcp" template="ztmysqlAnchorForward"`,
      `         queue.type="LinkedList" queue.size="10000" queue.filename="ztmysql-anchor-fwd" queue.saveOnShutdown="on" action.resumeRetryCount="-1")`);
  }
  lines.push('  stop', '}', '');
  return lines.join('\n');
}

/** Ops Agent (GCP) configuration: tail the anchor file and parse each line as JSON. */
export function renderOpsAgentConfig(): string {
  return `# Managed by ztmysql provisioning.
logging:
  receivers:
    ${ANCHOR_LOG_ID}:
      type: files
      include_paths: [${ANCHOR_LOG_FILE}]
  processors:
    ${ANCHOR_LOG_ID}-json:
      type: parse_json
  service:
    pipelines:
      ${ANCHOR_LOG_ID}:
        receivers: [${ANCHOR_LOG_ID}]
        processors: [${ANCHOR_LOG_ID}-json]
`;
}

export function anchorStep(s: ValidSettings, forward?: AnchorForward): Step {
  const b = new StepBuilder('anchor', 'anchor service and timer, syslog shipping');
  const units = renderAnchorUnits();
  const script = b.inline('anchor.sh', renderAnchorScript(s.database));
  const service = b.inline('anchor.service', units.service);
  const timer = b.inline('anchor.timer', units.timer);
  const rsyslog = b.inline('rsyslog.conf', renderRsyslogRule(forward));
  const ops = b.inline('ops-agent.yaml', renderOpsAgentConfig());
  b.add(
    `id ${ANCHOR_USER} >/dev/null 2>&1 || { useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${ANCHOR_USER}; zt_changed "created user ${ANCHOR_USER}"; }`,
    `zt_dir /usr/local/lib/ztmysql root root 0755`,
    `zt_place ${script} ${ANCHOR_SCRIPT} root root 0755`,
    `zt_dir /etc/ztmysql root root 0755`,
    `zt_dir /var/log/ztmysql root adm 0750`,
    // The anchor's MySQL password is made on the host and never leaves it.
    `zt_wait_mysql 120`,
    `if [ ! -s ${ANCHOR_CLIENT_CNF} ] || [ -z "$(zt_sql -e "SELECT 1 FROM mysql.user WHERE user='${ANCHOR_DB_USER}' AND host='localhost'")" ]; then`,
    `  zt_pw="Zt1-$(openssl rand -hex 24)"`,
    `  printf "[client]\\nuser=${ANCHOR_DB_USER}\\npassword=%s\\n" "$zt_pw" > "$ZT_IN/anchor.cnf"`,
    `  if [ -n "$(zt_sql -e "SELECT 1 FROM mysql.user WHERE user='${ANCHOR_DB_USER}' AND host='localhost'")" ]; then zt_verb=ALTER; else zt_verb=CREATE; fi`,
    `  printf "%s USER '${ANCHOR_DB_USER}'@'localhost' IDENTIFIED WITH caching_sha2_password BY '%s' PASSWORD EXPIRE NEVER;\\n" "$zt_verb" "$zt_pw" | zt_sql 2>"$ZT_IN/err" || zt_fail "anchor account: $(grep -o 'ERROR [0-9]* ([A-Z0-9]*)' "$ZT_IN/err" | head -1)"`,
    `  unset zt_pw`,
    `  install -o ${ANCHOR_USER} -g ${ANCHOR_USER} -m 0400 "$ZT_IN/anchor.cnf" ${ANCHOR_CLIENT_CNF}`,
    `  zt_changed "anchor MySQL account and client file"`,
    `fi`,
    `zt_mode ${ANCHOR_CLIENT_CNF} ${ANCHOR_USER} ${ANCHOR_USER} 0400`,
    `[ -n "$(zt_sql -e "SELECT 1 FROM mysql.user WHERE user='ztmysql_definer' AND host='localhost'")" ] || zt_fail "the definer account is missing (the dataplane step must run first)"`,
    `if zt_sql -e "SELECT 1 FROM information_schema.routines WHERE routine_schema='${s.database}' AND routine_name='${ANCHOR_PROCEDURE}'" | grep -q 1; then`,
    `  zt_g1=$(zt_sql -e "SHOW GRANTS FOR '${ANCHOR_DB_USER}'@'localhost'" | sha256sum)`,
    `  zt_sql -e "GRANT EXECUTE ON PROCEDURE \\\`${s.database}\\\`.${ANCHOR_PROCEDURE} TO '${ANCHOR_DB_USER}'@'localhost'"`,
    `  [ "$zt_g1" = "$(zt_sql -e "SHOW GRANTS FOR '${ANCHOR_DB_USER}'@'localhost'" | sha256sum)" ] || zt_changed "granted EXECUTE on ${ANCHOR_PROCEDURE}"`,
    `else`,
    `  zt_fail "procedure ${s.database}.${ANCHOR_PROCEDURE} is missing (the schema steps must run first)"`,
    `fi`,
    `zt_before=$ZT_CHANGED; ZT_CHANGED=0`,
    `zt_place ${rsyslog} /etc/rsyslog.d/30-ztmysql-anchor.conf root root 0644`,
    `if [ "$ZT_CHANGED" = 1 ]; then rsyslogd -N1 >/dev/null 2>"$ZT_IN/rsyslog.err" || zt_fail "rsyslog rejected the anchor rule: $(head -c 300 "$ZT_IN/rsyslog.err")"; systemctl restart rsyslog; fi`,
    `[ "$zt_before" = 1 ] && ZT_CHANGED=1`,
    `if [ -d /etc/google-cloud-ops-agent ]; then zt_place ${ops} /etc/google-cloud-ops-agent/config.yaml root root 0644; fi`,
    `zt_before=$ZT_CHANGED; ZT_CHANGED=0`,
    `zt_place ${service} /etc/systemd/system/ztmysql-anchor.service root root 0644`,
    `zt_place ${timer} /etc/systemd/system/ztmysql-anchor.timer root root 0644`,
    `[ "$ZT_CHANGED" = 1 ] && systemctl daemon-reload`,
    `[ "$zt_before" = 1 ] && ZT_CHANGED=1`,
    `systemctl is-enabled --quiet ztmysql-anchor.timer || { systemctl enable --quiet ztmysql-anchor.timer; zt_changed "anchor timer enabled"; }`,
    `systemctl is-active --quiet ztmysql-anchor.timer || { systemctl start ztmysql-anchor.timer; zt_changed "anchor timer started"; }`,
    // One anchor now, so a fresh deployment is anchored before the first tick.
    `if [ "$ZT_CHANGED" = 1 ]; then systemctl start ztmysql-anchor.service || zt_fail "the first anchor failed: $(journalctl -u ztmysql-anchor -n 3 --no-pager -o cat 2>/dev/null)"; fi`,
    `zt_log "anchor timer active; last run: $(systemctl show -p ExecMainStatus --value ztmysql-anchor.service)"`,
  );
  return b.build();
}
