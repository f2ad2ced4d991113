// ZtClient against the test lab, with the lab's SoftHSM2 token. Jest gives each test
// file a copy of process.env, so SOFTHSM2_CONF must also be set on the real process
// object for libsofthsm2's getenv() to see it (as tests/unit/client/support/softhsm.ts).
import { randomBytes } from 'node:crypto';
import * as vm from 'node:vm';
import { KmsConfig } from '../../../client/kmsConfig';
import { ZtClient, ZtClientOptions } from '../../../client/ztClient';
import { testOutputs } from './testLab';

const realProcess = vm.runInThisContext('process') as NodeJS.Process;

export function labKms(): KmsConfig {
  const kms = testOutputs().kms as KmsConfig | undefined;
  if (!kms || kms.provider !== 'pkcs11') throw new Error('the test lab outputs have no pkcs11 kms section (lab/hsm.ts)');
  return kms;
}

export function useLabSoftHsm(): void {
  const conf = labKms().confPath;
  if (!conf) throw new Error('kms.confPath missing');
  realProcess.env.SOFTHSM2_CONF = conf;
  process.env.SOFTHSM2_CONF = conf;
}

export async function labClient(opts: ZtClientOptions = {}): Promise<ZtClient> {
  useLabSoftHsm();
  return ZtClient.create(testOutputs(), opts);
}

/** A fresh unique marker (upper-case hex, no regex/LIKE metacharacters). */
export function marker(prefix: string): string {
  return `${prefix}${randomBytes(10).toString('hex').toUpperCase()}`;
}
