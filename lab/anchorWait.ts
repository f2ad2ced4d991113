// Waits until an anchor emitted after a given time has reached the lab's collector:
// the end-to-end path timer -> syslog -> collector works for this deployment.
import { AnchorRecord } from '../audit/anchorRecord';
import { readAnchors } from '../audit/anchorSource';
import { loadDeploymentOutputs } from '../client/deploymentOutputs';
import { sshExec } from '../audit/ssh';
import { LabContext } from './lab';
import { sleep } from './exec';

export async function waitForFreshAnchor(ctx: LabContext, sinceMs: number, timeoutMs = 90_000): Promise<AnchorRecord> {
  const source = loadDeploymentOutputs(ctx.outputsPath).anchors?.source;
  if (!source) throw new Error('outputs.json names no anchor source');
  // Ask for one now instead of waiting up to a minute for the timer.
  await sshExec(ctx.target, 'sudo -n systemctl start ztmysql-anchor.service');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let latest: AnchorRecord | undefined;
    for await (const item of readAnchors(source)) {
      if (item.kind === 'anchor' && Date.parse(item.entry.record.emitted_at) >= sinceMs) latest = item.entry.record;
    }
    if (latest) return latest;
    await sleep(500);
  }
  throw new Error(`no anchor emitted after ${new Date(sinceMs).toISOString()} reached ${source} within ${timeoutMs / 1000}s`);
}
