// Starts and stops the lab's anchor collector as a background process of the host
// (it must outlive `lab up`, and `lab down` must leave nothing running).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LabInstance, projectRoot } from './instance';
import { sleep } from './exec';

export const COLLECTOR_PORT = 10514;
/** Shards close (become read-only) after this long in the lab; a GCS sink batches hourly. */
export const LAB_BATCH_SECONDS = 120;

export function anchorsDir(inst: LabInstance): string {
  return join(inst.dir, 'anchors');
}

function pidFile(inst: LabInstance): string {
  return join(inst.dir, 'collector.pid');
}

/** The running collector of this instance: found by its command line, so a lost pid file does not hide it. */
export function collectorPid(inst: LabInstance): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('collectorMain.ts')) && argv.includes(anchorsDir(inst))) return Number(entry);
    } catch { /* exited */ }
  }
  return undefined;
}

export async function startCollector(inst: LabInstance): Promise<void> {
  if (collectorPid(inst)) return;
  mkdirSync(anchorsDir(inst), { recursive: true, mode: 0o755 });
  const out = openSync(join(inst.dir, 'collector.log'), 'a', 0o600);
  // node itself with tsx's hooks (not the tsx launcher), so the pid we keep is the
  // collector's own and a signal to it cannot leave an orphan behind.
  const tsxDist = join(projectRoot(), 'node_modules', 'tsx', 'dist');
  const child = spawn(process.execPath, ['--require', join(tsxDist, 'preflight.cjs'), '--import', pathToFileURL(join(tsxDist, 'loader.mjs')).href,
    join(__dirname, 'collectorMain.ts'), anchorsDir(inst), inst.hostAddress, String(COLLECTOR_PORT),
    String(LAB_BATCH_SECONDS), 'ztmysql-lab', inst.machine], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  writeFileSync(pidFile(inst), `${child.pid}\n`);
  // Ready when it accepts connections.
  const net = await import('node:net');
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: inst.hostAddress, port: COLLECTOR_PORT }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`the anchor collector did not start; see ${join(inst.dir, 'collector.log')}`);
}

export async function stopCollector(inst: LabInstance): Promise<void> {
  const pid = collectorPid(inst);
  if (pid) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && collectorPid(inst)) await sleep(100);
    if (collectorPid(inst)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile(inst), { force: true });
}
