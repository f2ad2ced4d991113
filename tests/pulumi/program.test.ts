// index.ts itself: it reads the `ztmysql` config namespace (JSON-encoded structured
// values, as the Pulumi engine passes them), deploys, and exports the DESIGN.md keys.
import * as pulumi from '@pulumi/pulumi';
import { installMocks, MockRun } from './support/mocks';
import { PROD } from './support/configs';

let run: MockRun;

test('the program deploys from stack config and exports the outputs contract', async () => {
  run = installMocks({ stack: 'prod' });
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(PROD)) if (v !== undefined) all[`ztmysql:${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(all);
  const program = await import('../../index');
  await run.settle();
  expect(Object.keys(program).sort()).toEqual(expect.arrayContaining(['host', 'port', 'database', 'serverName', 'caCertPem', 'principals', 'kms', 'anchors', 'ssh']));
  expect(run.one('gcp:storage/bucket:Bucket').inputs.retentionPolicy).toEqual({ retentionPeriod: String(400 * 86400), isLocked: true });
  expect(run.one('gcp:logging/projectSink:ProjectSink').inputs.filter).toContain('projects/acme-ztmysql-prod/logs/ztmysql-anchor');
  expect(run.byType('ztmysql:hostProvisioning:HostProvisioning')).toHaveLength(1);
}, 60_000);
