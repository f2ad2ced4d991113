// A throwaway SoftHSM2 token in a temp dir for one test file. cleanup() removes it
// and restores SOFTHSM2_CONF; call it from afterAll so it runs even on failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { initSoftHsmToken, SoftHsmToken } from '../../../../client/kms/softhsmToken';

export interface TempToken extends SoftHsmToken {
  dir: string;
  soPin: string;
  userPin: string;
  addKey(keyLabel: string): Promise<SoftHsmToken>;
  cleanup(): void;
}

// Jest gives each test file a copy of process.env, so setting SOFTHSM2_CONF there never
// reaches getenv() in libsofthsm2. The real process object lives in the main context.
const realProcess = vm.runInThisContext('process') as NodeJS.Process;

export async function createTempToken(tokenLabel = 'zt-test', keyLabel = 'kek-v1'): Promise<TempToken> {
  const previousConf = process.env.SOFTHSM2_CONF;
  const previousRealConf = realProcess.env.SOFTHSM2_CONF;
  const dir = mkdtempSync(path.join(tmpdir(), 'ztmysql-softhsm-'));
  const soPin = 'so-pin-test-8421';
  const userPin = 'user-pin-test-5937';
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previousConf;
    if (previousRealConf === undefined) delete realProcess.env.SOFTHSM2_CONF;
    else realProcess.env.SOFTHSM2_CONF = previousRealConf;
  };
  const tokenDir = path.join(dir, 'tokens');
  const confPath = path.join(dir, 'softhsm2.conf');
  realProcess.env.SOFTHSM2_CONF = confPath; // configureSoftHsm() writes this file before C_Initialize
  try {
    const t = await initSoftHsmToken({ tokenDir, confPath, tokenLabel, soPin, userPin, keyLabel });
    return {
      ...t,
      dir,
      soPin,
      userPin,
      addKey: (label: string) => initSoftHsmToken({ tokenDir, confPath, tokenLabel, soPin, userPin, keyLabel: label }),
      cleanup,
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
