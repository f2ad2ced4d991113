// `lab up|down|status|demo [--name NAME]`: the local test host.
import { resolve } from 'node:path';
import { labDown, labStatus, labUp } from './lab';
import { negotiatedTls } from './summary';
import { waitForFreshAnchor } from './anchorWait';
import { loadDeploymentOutputs } from '../client/deploymentOutputs';
import { prove } from '../audit/prove/runner';
import { allChecks } from '../audit/prove/checks';
import { ZtClient } from '../client/ztClient';

const USAGE = `usage: lab <up|down|status|demo> [--name NAME] [--no-provision]
  up      build (cached) and boot the test host, provision it, write outputs.json
  demo    up, wait for a fresh anchor, run ztmysql prove; print the summary and the bundle path
  down    stop the host and remove its container, mounts and network namespace
  status  show what is running`;

/** One tenant and one user written and read back as the app principal; returns a summary line. */
async function writeDemoRecord(outputsPath: string): Promise<string> {
  const zt = await ZtClient.fromOutputs(outputsPath, 'app');
  try {
    const tenant = await zt.tenants.create(`demo ${new Date().toISOString()}`);
    const id = await zt.users.create(tenant, { name: 'Ada Lovelace', role: 'admin', email: 'ada@example.test', phone: '+44 20 7946 0000' });
    const back = await zt.users.get(tenant, id);
    const calls = zt.kmsCalls;
    return `user ${id.slice(0, 8)}… stored as envelopes only, read back as "${back.name}" (tenant ${tenant.slice(0, 8)}…; HSM wrap ${calls?.wrap ?? '?'}, unwrap ${calls?.unwrap ?? '?'})`;
  } finally {
    await zt.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let name = 'main';
  let provision = true;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--name' && rest[i + 1]) name = rest[++i];
    else if (rest[i] === '--no-provision') provision = false;
    else { console.error(`unknown argument ${rest[i]}\n${USAGE}`); return 2; }
  }
  switch (command) {
    case 'up':
    case 'demo': {
      const started = Date.now();
      const { ctx, outcomes } = await labUp(name, { provision });
      const changed = outcomes.filter((o) => o.result === 'changed').map((o) => o.id);
      console.log(`lab ${name} is up in ${((Date.now() - started) / 1000).toFixed(0)}s; ${outcomes.length} steps, changed: ${changed.join(', ') || 'none'}`);
      if (command === 'demo' && provision) {
        const tls = await negotiatedTls(ctx.outputsPath, 'app');
        console.error(`lab ${name}: writing a demo record through the client SDK (PII encrypted in this process)`);
        const demo = await writeDemoRecord(ctx.outputsPath);
        console.error(`lab ${name}: waiting for a fresh anchor to reach the collector`);
        const anchor = await waitForFreshAnchor(ctx, started);
        console.error(`lab ${name}: running ztmysql prove`);
        const bundlePath = resolve('proof_bundle.tar.gz');
        const proof = await prove(loadDeploymentOutputs(ctx.outputsPath), allChecks, { bundlePath });
        console.log([
          '',
          `  MySQL         ${ctx.inst.guestAddress}:3306 (${ctx.inst.serverName}), server ${tls.serverVersion}`,
          `  app principal ${tls.user} negotiated ${tls.tlsVersion} with ${tls.cipher} (mutual TLS)`,
          `  demo record   ${demo}`,
          `  anchor        tree size ${anchor.tree_size}, root ${anchor.root.slice(0, 16)}…, emitted ${anchor.emitted_at}`,
          '',
          ...proof.manifest.controls.map((c) => `  ${c.status.padEnd(8)} ${c.layer.padEnd(9)} ${c.title}`),
          '',
          `  proof bundle  ${proof.bundlePath} (report.html inside)`,
          `  outputs       ${ctx.outputsPath}`,
          `  ssh           ssh -i ${ctx.target.privateKeyPath} ${ctx.target.user}@${ctx.target.host}`,
          `  stop it with  npx tsx lab/cli.ts down${name === 'main' ? '' : ` --name ${name}`}`,
        ].join('\n'));
        return proof.exitCode;
      }
      return 0;
    }
    case 'down':
      await labDown(name);
      return 0;
    case 'status': {
      const s = labStatus(name);
      console.log(JSON.stringify(s, null, 2));
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
  console.error(`lab: ${e.message}`);
  process.exitCode = 1;
});
