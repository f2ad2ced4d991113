// The booted test host: an overlay over the cached rootfs (so the cache stays
// pristine), per-instance identity written into it, and systemd-nspawn booting it
// inside the instance's network namespace.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { LabInstance } from './instance';
import { log, run, sleep } from './exec';
import { LAB_DEPLOY_USER } from './rootfs';

export interface ContainerPaths {
  readonly overlay: string;
  readonly upper: string;
  readonly work: string;
  readonly root: string;
  readonly pidFile: string;
  readonly consoleLog: string;
}

export function containerPaths(inst: LabInstance): ContainerPaths {
  const overlay = join(inst.dir, 'overlay');
  return {
    overlay, upper: join(overlay, 'upper'), work: join(overlay, 'work'), root: join(overlay, 'root'),
    pidFile: join(inst.dir, 'nspawn.pid'), consoleLog: join(inst.dir, 'console.log'),
  };
}

export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === path);
}

/** Mounts below a path, deepest first (nspawn may leave some behind if killed). */
export function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m && (m === path || m.startsWith(`${path}/`)))
    .sort((a, b) => b.length - a.length);
}

export function nspawnPid(inst: LabInstance): number | undefined {
  const p = containerPaths(inst);
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // Guard against a recycled pid: it must still be our nspawn.
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return cmdline.includes('systemd-nspawn') && cmdline.includes(p.root) ? pid : undefined;
}

export function mountOverlay(inst: LabInstance, rootfs: string): void {
  const p = containerPaths(inst);
  mkdirSync(p.overlay, { recursive: true, mode: 0o700 });
  // The upper dir's mode becomes the guest's "/": it must be 0755 or services cannot chdir.
  for (const d of [p.upper, p.work, p.root]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  if (isMounted(p.root)) return;
  run(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${p.upper},workdir=${p.work}`, p.root]);
}

/** Identity of this instance, written before first boot: host key, deploy key, hostname. */
export function personalise(inst: LabInstance, deployPublicKey: string): string {
  const p = containerPaths(inst);
  const root = p.root;
  const hostKey = join(root, 'etc/ssh/ssh_host_ed25519_key');
  if (!existsSync(hostKey)) {
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', inst.machine, '-f', hostKey]);
  }
  writeFileSync(join(root, 'etc/hostname'), `${inst.machine}\n`);
  writeFileSync(join(root, 'etc/hosts'), `127.0.0.1 localhost\n127.0.1.1 ${inst.machine}\n${inst.guestAddress} ${inst.serverName}\n::1 localhost ip6-localhost ip6-loopback\n`);
  const sshDir = join(root, 'home', LAB_DEPLOY_USER, '.ssh');
  mkdirSync(sshDir, { recursive: true });
  writeFileSync(join(sshDir, 'authorized_keys'), deployPublicKey.trim() + '\n', { mode: 0o600 });
  run(['chroot', root, 'chown', '-R', `${LAB_DEPLOY_USER}:${LAB_DEPLOY_USER}`, `/home/${LAB_DEPLOY_USER}/.ssh`]);
  run(['chmod', '0700', sshDir]);
  return readFileSync(`${hostKey}.pub`, 'utf8').trim();
}

export function boot(inst: LabInstance): number {
  const p = containerPaths(inst);
  const running = nspawnPid(inst);
  if (running) return running;
  const out = openSync(p.consoleLog, 'a', 0o600);
  const child = spawn('systemd-nspawn', [
    '-D', p.root, '--boot', '--register=no', '--keep-unit', `--machine=${inst.machine}`,
    `--network-namespace-path=/run/netns/${inst.netns}`, '--console=read-only', '--quiet',
    // nspawn 252 drops CAP_NET_ADMIN unless it made the network namespace itself; the
    // namespace is private to this guest, and UFW needs the capability inside it.
    '--capability=CAP_NET_ADMIN',
  ], {
    detached: true, stdio: ['ignore', out, out],
    // systemd in the guest refuses this host's cgroup v1 layout without it.
    env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
  });
  closeSync(out);
  if (!child.pid) throw new Error('systemd-nspawn did not start');
  child.unref();
  writeFileSync(p.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** Orderly poweroff (nspawn turns SIGTERM into one), then SIGKILL if it hangs. */
export async function stopContainer(inst: LabInstance, timeoutMs = 30000): Promise<void> {
  const pid = nspawnPid(inst);
  if (pid) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && nspawnPid(inst)) await sleep(250);
    if (nspawnPid(inst)) {
      log(`lab: ${inst.machine} did not power off in ${timeoutMs / 1000}s; killing it`);
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await sleep(500);
    }
  }
  rmSync(containerPaths(inst).pidFile, { force: true });
}

export function unmountOverlay(inst: LabInstance): void {
  const p = containerPaths(inst);
  for (const m of mountsUnder(p.root)) run(['umount', '-l', m], { allowFail: true });
}

/** The guest's init (the nspawn process's child). */
export function guestInitPid(inst: LabInstance): number | undefined {
  const pid = nspawnPid(inst);
  if (!pid) return undefined;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return children.length ? Number(children[0]) : undefined;
}

/**
 * systemd-nspawn 252 leaves /proc/sys read-only under --network-namespace-path, even
 * though the namespace is private (later versions make /proc/sys/net writable, as
 * for --private-network). Do the same here, so the guest can set its own net.*
 * sysctls as a VM would; kernel-wide keys stay read-only.
 */
export function makeNetSysctlsWritable(inst: LabInstance): void {
  const init = guestInitPid(inst);
  if (!init) throw new Error(`${inst.machine} is not running`);
  const mounts = readFileSync(`/proc/${init}/mounts`, 'utf8').split('\n');
  if (mounts.some((l) => { const f = l.split(' '); return f[1] === '/proc/sys/net' && f[3]?.startsWith('rw'); })) return;
  run(['nsenter', '-t', String(init), '-m', 'sh', '-c', 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net']);
}
