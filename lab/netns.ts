// The instance's network namespace and the veth pair that joins it to the host.
import { LabInstance } from './instance';
import { run, succeeds } from './exec';

export function netnsExists(inst: LabInstance): boolean {
  return run(['ip', 'netns', 'list'], { allowFail: true }).stdout.split('\n').some((l) => l.split(' ')[0] === inst.netns);
}

export function linkExists(name: string): boolean {
  return succeeds(['ip', 'link', 'show', 'dev', name]);
}

export function createNetwork(inst: LabInstance): void {
  if (!netnsExists(inst)) run(['ip', 'netns', 'add', inst.netns]);
  if (!linkExists(inst.vethHost)) {
    run(['ip', 'link', 'add', inst.vethHost, 'type', 'veth', 'peer', 'name', inst.vethGuest, 'netns', inst.netns]);
  }
  const hostCidr = `${inst.hostAddress}/${inst.prefix}`;
  if (!run(['ip', '-o', 'addr', 'show', 'dev', inst.vethHost]).stdout.includes(` ${hostCidr} `)) {
    run(['ip', 'addr', 'add', hostCidr, 'dev', inst.vethHost]);
  }
  run(['ip', 'link', 'set', inst.vethHost, 'up']);
  const inNs = (...argv: string[]): string[] => ['ip', '-n', inst.netns, ...argv];
  const guestCidr = `${inst.guestAddress}/${inst.prefix}`;
  if (!run(inNs('-o', 'addr', 'show', 'dev', inst.vethGuest)).stdout.includes(` ${guestCidr} `)) {
    run(inNs('addr', 'add', guestCidr, 'dev', inst.vethGuest));
  }
  run(inNs('link', 'set', inst.vethGuest, 'up'));
  run(inNs('link', 'set', 'lo', 'up'));
}

export function removeNetwork(inst: LabInstance): void {
  if (linkExists(inst.vethHost)) run(['ip', 'link', 'del', inst.vethHost], { allowFail: true });
  if (netnsExists(inst)) run(['ip', 'netns', 'del', inst.netns]);
}
