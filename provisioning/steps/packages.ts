// Ensures the host packages exist, installing only what is missing, and that the
// server is Oracle MySQL (Debian 12's "mysql" packages are MariaDB, which is not).
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { shq } from '../shell';

export const BASE_PACKAGES = [
  'mysql-server', 'mysql-client', 'ufw', 'fail2ban', 'python3-systemd', 'rsyslog',
  'openssl', 'sudo', 'iproute2', 'ca-certificates', 'openssh-server',
];

export function packagesStep(s: ValidSettings): Step {
  const wanted = [...BASE_PACKAGES, ...s.extraPackages];
  return new StepBuilder('packages', 'install missing packages').add(
    `zt_missing=()`,
    `for zt_pkg in ${wanted.map(shq).join(' ')}; do`,
    `  if [ "$(dpkg-query -W -f='\${db:Status-Status}' "$zt_pkg" 2>/dev/null)" != installed ]; then zt_missing+=("$zt_pkg"); fi`,
    `done`,
    `if [ "\${#zt_missing[@]}" -gt 0 ]; then`,
    `  zt_log "installing \${zt_missing[*]}"`,
    `  apt-get update -q >/dev/null`,
    `  apt-get install -y -q --no-install-recommends "\${zt_missing[@]}" >/dev/null`,
    `  zt_changed "installed \${zt_missing[*]}"`,
    `else`,
    `  zt_log "all ${wanted.length} packages present"`,
    `fi`,
    // The client's version, not mysqld's: mysqld run as root would initialise the keyring file as root.
    `zt_version=$(mysql --version)`,
    `case "$zt_version" in *MariaDB*) zt_fail "the MySQL packages are MariaDB; ztmysql needs Oracle MySQL 8.4 or later";; esac`,
    `zt_major=$(printf '%s' "$zt_version" | sed -n 's/.* Ver \\([0-9]*\\)\\.\\([0-9]*\\).*/\\1\\2/p')`,
    `[ -n "$zt_major" ] && [ "$zt_major" -ge 84 ] || zt_fail "MySQL is too old ($zt_version); ztmysql needs 8.4 or later"`,
    `zt_log "$zt_version"`,
  ).build();
}
