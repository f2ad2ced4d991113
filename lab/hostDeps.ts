// Host packages the lab needs; installed with apt only when missing.
import { log, run } from './exec';

export const HOST_PACKAGES = ['debootstrap', 'systemd-container', 'iproute2', 'openssl', 'openssh-client', 'softhsm2', 'procps', 'util-linux', 'coreutils'];

function installed(pkg: string): boolean {
  const r = run(['dpkg-query', '-W', '-f=${db:Status-Status}', pkg], { allowFail: true });
  return r.status === 0 && r.stdout.trim() === 'installed';
}

export function ensureHostPackages(extra: readonly string[] = []): void {
  const missing = [...HOST_PACKAGES, ...extra].filter((p) => !installed(p));
  if (missing.length === 0) return;
  log(`lab: installing host packages: ${missing.join(' ')}`);
  run(['apt-get', 'update', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the lab needs root (debootstrap, network namespaces, systemd-nspawn): run it as root');
  }
}
