// Host hardening (../shared/HARDENING.md, "Host"): sysctl, sshd, fail2ban, UFW.
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';

export const SYSCTL_FILE = '/etc/sysctl.d/60-ztmysql.conf';
export const SSHD_DROPIN = '/etc/ssh/sshd_config.d/00-ztmysql.conf';
export const FAIL2BAN_JAIL = '/etc/fail2ban/jail.d/ztmysql.local';

export const SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ['net.ipv4.ip_forward', '0'],
  ['net.ipv4.conf.all.rp_filter', '1'],
  ['net.ipv4.conf.default.rp_filter', '1'],
  ['net.ipv4.tcp_syncookies', '1'],
  ['net.ipv4.conf.all.accept_redirects', '0'],
  ['net.ipv4.conf.default.accept_redirects', '0'],
  ['net.ipv4.conf.all.secure_redirects', '0'],
  ['net.ipv4.conf.default.secure_redirects', '0'],
  ['net.ipv4.conf.all.send_redirects', '0'],
  ['net.ipv4.conf.default.send_redirects', '0'],
  ['net.ipv4.conf.all.accept_source_route', '0'],
  ['net.ipv4.conf.default.accept_source_route', '0'],
  ['net.ipv4.conf.all.log_martians', '1'],
  ['net.ipv4.conf.default.log_martians', '1'],
  ['net.ipv4.icmp_echo_ignore_broadcasts', '1'],
  ['net.ipv4.icmp_ignore_bogus_error_responses', '1'],
  ['net.ipv6.conf.all.accept_redirects', '0'],
  ['net.ipv6.conf.default.accept_redirects', '0'],
  ['net.ipv6.conf.all.accept_source_route', '0'],
  ['kernel.sysrq', '0'],
  ['kernel.randomize_va_space', '2'],
  ['kernel.kptr_restrict', '2'],
  ['kernel.dmesg_restrict', '1'],
  ['fs.suid_dumpable', '0'],
  ['fs.protected_hardlinks', '1'],
  ['fs.protected_symlinks', '1'],
  ['fs.protected_fifos', '1'],
  ['fs.protected_regular', '1'],
];

export function renderSshdConfig(s: ValidSettings): string {
  return [
    '# Managed by ztmysql provisioning. First match wins in sshd, so this file sorts first.',
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'PubkeyAuthentication yes',
    'AuthenticationMethods publickey',
    'MaxAuthTries 3',
    'LoginGraceTime 30',
    'MaxStartups 10:30:60',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'AllowStreamLocalForwarding no',
    'PermitTunnel no',
    'GatewayPorts no',
    'PermitUserEnvironment no',
    'ClientAliveInterval 300',
    'ClientAliveCountMax 2',
    'LogLevel VERBOSE',
    `AllowUsers ${s.deployUser}`,
    'KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org',
    'Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com',
    'MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com',
    'HostKeyAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256',
    '',
  ].join('\n');
}

export function renderFail2banJail(): string {
  return [
    '# Managed by ztmysql provisioning.',
    '[sshd]',
    'enabled = true',
    'backend = systemd',
    'port = ssh',
    'maxretry = 3',
    'findtime = 10m',
    'bantime = 1h',
    '',
  ].join('\n');
}

/** The UFW rule commands, in order; the rendered list is also the drift fingerprint. */
export function ufwRules(s: ValidSettings): string[] {
  return [
    ...s.deployRanges.map((r) => `allow from ${r.text} to any port 22 proto tcp`),
    ...s.clientRanges.map((r) => `allow from ${r.text} to any port ${s.mysqlPort} proto tcp`),
  ];
}

export function hostHardeningStep(s: ValidSettings): Step {
  const b = new StepBuilder('host-hardening', 'sysctl, sshd, fail2ban and UFW');
  const sysctlText = ['# Managed by ztmysql provisioning.', ...SYSCTLS.map(([k, v]) => `${k} = ${v}`), ''].join('\n');
  const sysctlSrc = b.inline('sysctl.conf', sysctlText);
  const sshdSrc = b.inline('sshd.conf', renderSshdConfig(s));
  const jailSrc = b.inline('jail.local', renderFail2banJail());
  const rules = ufwRules(s);
  const ufwSpec = b.inline('ufw.rules', ['default deny incoming', 'default allow outgoing', 'default deny routed', ...rules, ''].join('\n'));

  b.add(
    '# sshd: validate the whole configuration before reloading; restore on failure.',
    `zt_dir /etc/ssh/sshd_config.d root root 0755`,
    `zt_before=$ZT_CHANGED; ZT_CHANGED=0`,
    `[ -f ${SSHD_DROPIN} ] && cp -p ${SSHD_DROPIN} "$ZT_IN/sshd.previous"`,
    `zt_place ${sshdSrc} ${SSHD_DROPIN} root root 0600`,
    `if [ "$ZT_CHANGED" = 1 ]; then`,
    `  if ! sshd -t 2>"$ZT_IN/sshd.err"; then`,
    `    if [ -f "$ZT_IN/sshd.previous" ]; then cp -p "$ZT_IN/sshd.previous" ${SSHD_DROPIN}; else rm -f ${SSHD_DROPIN}; fi`,
    `    zt_fail "sshd rejected the hardened configuration: $(head -c 400 "$ZT_IN/sshd.err")"`,
    `  fi`,
    `  systemctl try-reload-or-restart ssh.service`,
    `fi`,
    `[ "$zt_before" = 1 ] && ZT_CHANGED=1`,
    '',
    '# fail2ban: sshd jail on the systemd journal.',
    `zt_before=$ZT_CHANGED; ZT_CHANGED=0`,
    `zt_place ${jailSrc} ${FAIL2BAN_JAIL} root root 0644`,
    `if [ "$ZT_CHANGED" = 1 ] || ! systemctl is-active --quiet fail2ban; then`,
    `  systemctl enable --quiet fail2ban`,
    `  systemctl restart fail2ban`,
    `  ZT_CHANGED=1`,
    `fi`,
    `[ "$zt_before" = 1 ] && ZT_CHANGED=1`,
    `for zt_i in $(seq 1 30); do fail2ban-client status sshd >/dev/null 2>&1 && break; sleep 1; done`,
    `fail2ban-client status sshd >/dev/null 2>&1 || zt_fail "fail2ban sshd jail is not up"`,
    '',
    '# UFW: rebuilt only when the wanted rules or the rules on disk drifted.',
    `zt_dir /var/lib/ztmysql root root 0700`,
    `zt_want="$(sha256sum < ${ufwSpec} | cut -c1-64) $(cat /etc/ufw/user.rules /etc/ufw/user6.rules 2>/dev/null | sha256sum | cut -c1-64)"`,
    `if ! ufw status | grep -q '^Status: active' || [ "$(cat /var/lib/ztmysql/ufw.applied 2>/dev/null)" != "$zt_want" ]; then`,
    `  ufw --force reset >/dev/null`,
    `  find /etc/ufw -maxdepth 1 -name '*.rules.[0-9]*' -delete`,
    `  while IFS= read -r zt_rule; do [ -n "$zt_rule" ] && ufw $zt_rule >/dev/null; done < ${ufwSpec}`,
    `  ufw logging low >/dev/null`,
    `  ufw --force enable >/dev/null`,
    `  printf '%s %s' "$(sha256sum < ${ufwSpec} | cut -c1-64)" "$(cat /etc/ufw/user.rules /etc/ufw/user6.rules | sha256sum | cut -c1-64)" > /var/lib/ztmysql/ufw.applied`,
    `  zt_changed "UFW rules applied (${rules.length} allow rules, default deny)"`,
    `fi`,
    // UFW applies its own sysctl file when it starts (log_martians=0 among others): point it at ours.
    `if ! grep -qx 'IPT_SYSCTL=${SYSCTL_FILE}' /etc/default/ufw; then`,
    `  sed -i 's|^IPT_SYSCTL=.*|IPT_SYSCTL=${SYSCTL_FILE}|' /etc/default/ufw`,
    `  grep -qx 'IPT_SYSCTL=${SYSCTL_FILE}' /etc/default/ufw || echo 'IPT_SYSCTL=${SYSCTL_FILE}' >> /etc/default/ufw`,
    `  zt_changed "ufw applies ${SYSCTL_FILE}"`,
    `fi`,
    `systemctl is-enabled --quiet ufw || { systemctl enable --quiet ufw; zt_changed "ufw enabled at boot"; }`,
    `ufw status verbose | grep -q 'Default: deny (incoming)' || zt_fail "UFW default incoming policy is not deny"`,
    `zt_log "ufw: default deny incoming, ${rules.length} allow rules"`,
    '',
    '# sysctl: persist, then apply each key; kernel-wide keys are read-only inside a container.',
    `zt_place ${sysctlSrc} ${SYSCTL_FILE} root root 0644`,
    `while IFS=' =' read -r zt_k zt_v; do`,
    `  case "$zt_k" in ''|'#'*) continue;; esac`,
    `  zt_cur=$(sysctl -n "$zt_k" 2>/dev/null || echo '?')`,
    `  [ "$zt_cur" = "$zt_v" ] && continue`,
    `  if sysctl -q -w "$zt_k=$zt_v" >/dev/null 2>&1; then zt_changed "sysctl $zt_k=$zt_v"`,
    `  elif zt_in_container && [ "\${zt_k#net.}" = "$zt_k" ]; then zt_log "sysctl $zt_k is the container host's to set (now $zt_cur)"`,
    `  else zt_fail "cannot set sysctl $zt_k=$zt_v"; fi`,
    `done < ${SYSCTL_FILE}`,
    '',
  );
  return b.build();
}
