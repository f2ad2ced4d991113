// A lab run that dies half-way (here: the `lab up` process killed after the boot)
// is still cleaned up completely by `lab down`: no container, mount, namespace or link.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labStatus } from '../../lab/lab';
import { labInstance } from '../../lab/instance';
import { containerPaths, nspawnPid } from '../../lab/container';
import { linkExists, netnsExists } from '../../lab/netns';
import { sleep } from '../../lab/exec';

const NAME = 'crash';

function leftovers(): string[] {
  const inst = labInstance(NAME);
  const found: string[] = [];
  if (netnsExists(inst)) found.push(`netns ${inst.netns}`);
  if (linkExists(inst.vethHost)) found.push(`link ${inst.vethHost}`);
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(inst.dir));
  found.push(...mounts.map((m) => `mount ${m.split(' ')[1]}`));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('systemd-nspawn') && cmd.includes(containerPaths(inst).root)) found.push(`nspawn pid ${entry}`);
    } catch { /* exited */ }
  }
  return found;
}

afterAll(async () => {
  await labDown(NAME, { quiet: true });
});

test('lab down after a killed lab run leaves no container, mount, namespace or link behind', async () => {
  const inst = labInstance(NAME);
  const child = spawn('npx', ['tsx', join(__dirname, '../../lab/cli.ts'), 'up', '--name', NAME, '--no-provision'], {
    stdio: 'ignore', detached: true,
  });
  // Wait until the guest is booting, then kill the whole `lab up` process group.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !nspawnPid(inst)) await sleep(500);
  expect(nspawnPid(inst)).toBeDefined();
  await sleep(2000);
  process.kill(-child.pid!, 'SIGKILL');
  expect(leftovers().length).toBeGreaterThan(0);

  await labDown(NAME, { quiet: true });
  expect(leftovers()).toEqual([]);
  expect(labStatus(NAME)).toMatchObject({ netns: false, nspawnPid: undefined, mounted: false, mounts: [] });
  // And a second down is harmless.
  await labDown(NAME, { quiet: true });
  expect(leftovers()).toEqual([]);
});
