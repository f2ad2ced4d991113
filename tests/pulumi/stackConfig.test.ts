// Config validation: every problem is reported at once, in words that name the key,
// and a bad config fails before a single resource is registered.
import { installMocks, MockRun } from './support/mocks';
import { PROD, DEV } from './support/configs';
import { StackConfigError, validateStackConfig, readRawConfig } from '../../components/config';

let run: MockRun;
beforeAll(() => {
  run = installMocks({ stack: 'prod' });
});

function problemsOf(raw: object): string[] {
  try {
    validateStackConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    return [...(e as StackConfigError).problems];
  }
  throw new Error('expected validation to fail');
}

test('the prod and dev test configs are valid, and prod gets the secure defaults', () => {
  const c = validateStackConfig(PROD);
  expect(c).toMatchObject({ deletionProtection: true, confidentialCompute: true, allowExternalIp: false, unprotectKmsKeys: false, archiveCmek: true, kmsRotationDays: 90, retentionLocked: true });
  expect(validateStackConfig(DEV).deletionProtection).toBe(false);
});

test('a bad CIDR, host bits set and IPv6 are named', () => {
  const p = problemsOf({ ...PROD, clientRanges: ['10.30.0.0/33', '10.30.0.1/16', 'fd00::/8'] });
  expect(p.join('\n')).toMatch(/clientRanges entry "10.30.0.0\/33"/);
  expect(p.join('\n')).toMatch(/host bits set; did you mean 10.30.0.0\/16/);
  expect(p.join('\n')).toMatch(/IPv6 ranges are not supported/);
});

test('0.0.0.0/0 is refused for MySQL and for SSH', () => {
  const p = problemsOf({ ...PROD, clientRanges: ['0.0.0.0/0'], deployRanges: ['0.0.0.0/0'] });
  expect(p).toContain('clientRanges entry 0.0.0.0/0 opens MySQL (3306) to the whole internet; list the real source ranges');
  expect(p).toContain('deployRanges entry 0.0.0.0/0 opens SSH (22) to the whole internet; list the real source ranges');
});

test('missing principals, or a missing role, are named', () => {
  expect(problemsOf({ ...PROD, principals: undefined }).join('\n')).toMatch(/principals is required/);
  expect(problemsOf({ ...PROD, principals: [{ name: 'app', role: 'app' }] })).toEqual(expect.arrayContaining([
    'principals must include one with role "owner"', 'principals must include one with role "auditor"',
  ]));
});

test('prod refuses an unlocked or unset retention lock, a retention below the minimum, external IPs and unprotected keys', () => {
  expect(problemsOf({ ...PROD, retentionLocked: false }).join('\n')).toMatch(/retentionLocked is false, but the retention policy must be locked in prod/);
  expect(problemsOf({ ...PROD, retentionLocked: undefined }).join('\n')).toMatch(/retentionLocked must be set to true in prod/);
  // Phase 1 of the two-phase lock must be asked for by name, and is then the only relaxation.
  expect(validateStackConfig({ ...PROD, retentionLocked: false, retentionLockPending: true })).toMatchObject({ retentionLocked: false, retentionLockPending: true });
  expect(problemsOf({ ...PROD, retentionLocked: true, retentionLockPending: true })).toEqual(['retentionLockPending must be removed once retentionLocked is true']);
  expect(problemsOf({ ...PROD, retentionDays: 30 }).join('\n')).toMatch(/retentionDays 30 is shorter than minimumRetentionDays 400/);
  expect(problemsOf({ ...PROD, allowExternalIp: true }).join('\n')).toMatch(/allowExternalIp is not allowed in prod/);
  expect(problemsOf({ ...PROD, unprotectKmsKeys: 'true' }).join('\n')).toMatch(/unprotectKmsKeys is not allowed in prod/);
  // The same settings are accepted in dev.
  expect(() => validateStackConfig({ ...DEV, retentionLocked: false, allowExternalIp: true })).not.toThrow();
});

test('the host address must be a usable address inside the subnet', () => {
  expect(problemsOf({ ...PROD, hostAddress: '10.99.0.5' })).toContain('hostAddress 10.99.0.5 is not inside subnetCidr 10.20.0.0/24');
  expect(problemsOf({ ...PROD, hostAddress: '10.20.0.1' })).toContain('hostAddress 10.20.0.1 is reserved by Google Cloud in 10.20.0.0/24');
});

test('several problems are reported together in one error', () => {
  const p = problemsOf({ ...PROD, clientRanges: ['0.0.0.0/0'], principals: [], retentionLocked: false, appIdentities: ['allUsers'] });
  expect(p.length).toBeGreaterThanOrEqual(4);
});

test('structured config values are parsed from the JSON strings Pulumi config returns', () => {
  const raw = readRawConfig((k) => ({ clientRanges: '["10.1.0.0/16"]', retentionLocked: 'true', environment: 'prod' } as Record<string, string>)[k]);
  expect(raw).toEqual({ clientRanges: ['10.1.0.0/16'], retentionLocked: 'true', environment: 'prod' });
});

test('a bad config fails in deployStack before any resource is registered', async () => {
  const { deployStack } = await import('../../components/stack');
  expect(() => deployStack({ ...PROD, clientRanges: ['0.0.0.0/0'], retentionLocked: false })).toThrow(StackConfigError);
  await run.settle();
  expect(run.resources).toHaveLength(0);
});

test('the program (index.ts) reads the ztmysql config and fails before registering anything', async () => {
  pulumi_setConfig({ ...PROD, deployRanges: ['0.0.0.0/0'] });
  await expect(import('../../index')).rejects.toThrow(/deployRanges entry 0.0.0.0\/0 opens SSH \(22\)/);
  await run.settle();
  expect(run.resources).toHaveLength(0);
});

function pulumi_setConfig(raw: Record<string, unknown>): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require('@pulumi/pulumi') as typeof import('@pulumi/pulumi');
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) all[`ztmysql:${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(all);
}
