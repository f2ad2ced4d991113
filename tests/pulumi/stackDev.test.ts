/* eslint-disable @typescript-eslint/no-explicit-any -- registered inputs are untyped JSON from the mock monitor */
// The dev stack: the same controls where they do not depend on the environment, and
// the relaxations dev may ask for by name (unlocked retention, unprotected keys, no
// deletion protection, no Confidential VM). Unsafe options stay off unless named.
import { installMocks, MockRun, promiseOf } from './support/mocks';
import { DEV } from './support/configs';
import type { StackOutputs } from '../../components/stack';
import { renderPlan } from '../../provisioning/plan';
import { provisioningSettings, validateStackConfig } from '../../components/config';

let run: MockRun;
let out: StackOutputs;

beforeAll(async () => {
  run = installMocks({ stack: 'dev', project: 'ztmysql' });
  const { deployStack } = await import('../../components/stack');
  out = deployStack(DEV, 'dev');
  await promiseOf(out.provisioned);
  await run.settle();
}, 60_000);

const inputs = (type: string) => run.one(type).inputs as Record<string, any>;

test('dev keeps HSM keys, the exact anchor sink, enforced public access prevention and the hardened VM', () => {
  for (const k of run.byType('gcp:kms/cryptoKey:CryptoKey')) expect((k.inputs.versionTemplate as any).protectionLevel).toBe('HSM');
  expect(inputs('gcp:logging/projectSink:ProjectSink').filter).toBe('logName="projects/acme-ztmysql-dev/logs/ztmysql-anchor" AND jsonPayload.ztmysql_anchor_version:*');
  const b = inputs('gcp:storage/bucket:Bucket');
  expect(b).toMatchObject({ uniformBucketLevelAccess: true, publicAccessPrevention: 'enforced', versioning: { enabled: true } });
  const vm = inputs('gcp:compute/instance:Instance');
  expect(vm.shieldedInstanceConfig).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
  expect(vm.metadata).toMatchObject({ 'enable-oslogin': 'TRUE', 'block-project-ssh-keys': 'TRUE', 'serial-port-enable': 'FALSE' });
  expect(vm.networkInterfaces[0].accessConfigs ?? []).toEqual([]); // allowExternalIp not asked for
});

test('dev relaxations are the configured ones: unlocked 7-day retention, no deletion protection, no Confidential VM', () => {
  expect(inputs('gcp:storage/bucket:Bucket').retentionPolicy).toEqual({ retentionPeriod: String(7 * 86400), isLocked: false });
  const vm = inputs('gcp:compute/instance:Instance');
  expect(vm.deletionProtection).toBe(false);
  expect(vm.confidentialInstanceConfig).toBeUndefined();
  expect(vm.machineType).toBe('e2-standard-2');
});

test('dev runs the same plan: the boot wait, then every plan step in order', () => {
  const steps = run.byType('command:remote:Command').map((c) => c.name);
  const plan = renderPlan(provisioningSettings(validateStackConfig(DEV)));
  expect(steps).toEqual(['provision-preflight', ...plan.steps.map((s) => `provision-${s.id}`)]);
  expect(steps).toContain('provision-accounts');
});
