// `ztmysql prove`: runs the control matrix against a deployment and writes the bundle.
import { resolve } from 'node:path';
import { loadDeploymentOutputs } from '../client/deploymentOutputs';
import { prove } from '../audit/prove/runner';
import { allChecks } from '../audit/prove/checks';
import { ParsedArgs, stringOption } from './args';

export const PROVE_USAGE = 'ztmysql prove [--outputs FILE] [--bundle FILE] [--json]';

export async function proveCommand(args: ParsedArgs): Promise<number> {
  const outputs = loadDeploymentOutputs(stringOption(args, 'outputs', '.ztmysql/lab/outputs.json'));
  const bundlePath = resolve(stringOption(args, 'bundle', 'proof_bundle.tar.gz'));
  const json = args.options.json === true;
  if (!json) console.error(`proving ${outputs.serverName} (${outputs.host}:${outputs.port})`);
  const result = await prove(outputs, allChecks, { bundlePath, log: json ? undefined : (l) => console.error(l) });
  if (json) {
    console.log(JSON.stringify({ exitCode: result.exitCode, bundle: result.bundlePath, controls: result.manifest.controls, checks: result.manifest.checks }, null, 2));
  } else {
    console.log('');
    for (const c of result.manifest.controls) console.log(`  ${c.status.padEnd(7)} ${c.layer.padEnd(9)} ${c.title}`);
    const failed = result.manifest.controls.filter((c) => c.status === 'fail');
    console.log(`\n${failed.length ? `FAIL: ${failed.map((c) => c.id).join(', ')}` : 'all controls that ran hold'}; bundle ${result.bundlePath}`);
  }
  return result.exitCode;
}
