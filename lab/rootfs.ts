// The test host's root filesystem: Debian sid (the only Debian suite with Oracle
// MySQL 9.x), built once by debootstrap and cached by the hash of its recipe.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_PACKAGES } from '../provisioning/steps/packages';
import { log, run } from './exec';

export const LAB_DEPLOY_USER = 'ztops';

export interface RootfsRecipe {
  readonly suite: string;
  readonly mirror: string;
  readonly packages: readonly string[];
  /** Runs inside the new tree with chroot, once, after debootstrap. */
  readonly prepare: string;
}

export const ROOTFS_RECIPE: RootfsRecipe = {
  suite: 'sid',
  mirror: 'http://deb.debian.org/debian',
  packages: [...new Set([
    'systemd', 'systemd-sysv', 'dbus', 'iptables', 'procps', 'less', 'python3-systemd',
    ...BASE_PACKAGES,
  ])].sort(),
  prepare: [
    'set -eu',
    `id ${LAB_DEPLOY_USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${LAB_DEPLOY_USER}`,
    `passwd --lock ${LAB_DEPLOY_USER} >/dev/null`,
    `printf '%s ALL=(root) NOPASSWD: ALL\\n' ${LAB_DEPLOY_USER} > /etc/sudoers.d/${LAB_DEPLOY_USER}`,
    `chmod 0440 /etc/sudoers.d/${LAB_DEPLOY_USER}`,
    'passwd --lock root >/dev/null',
    // Each instance gets its own host keys, machine id and MySQL server UUID at boot.
    'rm -f /etc/ssh/ssh_host_* /var/lib/mysql/auto.cnf',
    ': > /etc/machine-id',
    'systemctl enable ssh.service mysql.service rsyslog.service >/dev/null 2>&1 || true',
    'systemctl mask console-getty.service >/dev/null 2>&1 || true',
    'apt-get clean',
  ].join('\n'),
};

export function recipeHash(recipe: RootfsRecipe = ROOTFS_RECIPE): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

export function rootfsCacheDir(): string {
  return process.env.ZTMYSQL_ROOTFS_CACHE ?? '/var/cache/ztmysql/rootfs';
}

/** Returns the cached rootfs for the recipe, building it first if needed (1-3 minutes). */
export function ensureRootfs(recipe: RootfsRecipe = ROOTFS_RECIPE): string {
  const dir = join(rootfsCacheDir(), recipeHash(recipe));
  if (existsSync(join(dir, '.ztmysql-complete'))) return dir;
  mkdirSync(rootfsCacheDir(), { recursive: true, mode: 0o700 });
  const tmp = `${dir}.building-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`lab: building the Debian ${recipe.suite} rootfs (recipe ${recipeHash(recipe)}); this takes a few minutes the first time`);
  const started = Date.now();
  try {
    run(['debootstrap', '--variant=minbase', `--include=${recipe.packages.join(',')}`, recipe.suite, tmp, recipe.mirror], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    writeFileSync(join(tmp, 'tmp', 'ztmysql-prepare.sh'), recipe.prepare, { mode: 0o700 });
    run(['chroot', tmp, '/bin/bash', '/tmp/ztmysql-prepare.sh'], { stdio: ['ignore', 'pipe', 'pipe'] });
    rmSync(join(tmp, 'tmp', 'ztmysql-prepare.sh'));
    writeFileSync(join(tmp, '.ztmysql-complete'), JSON.stringify(recipe, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  log(`lab: rootfs ready in ${Math.round((Date.now() - started) / 1000)}s at ${dir}`);
  return dir;
}
