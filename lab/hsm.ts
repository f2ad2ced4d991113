// The lab's PKCS#11 KMS: a SoftHSM2 token per lab instance under <instance>/softhsm,
// its PINs in <instance>/secrets/hsm.json (0600), initialised idempotently during
// `lab up` in a child process (lab/hsmInit.ts). The token survives `lab down` (it is
// host-side state like the PKI); delete <instance>/softhsm and secrets/hsm.json to
// start over. Outputs: `kms` in outputs.json (labKmsOutputs).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SOFTHSM_LIBRARY } from '../client/kms/pkcs11Module';
import { LabInstance } from './instance';
import { run } from './exec';

export const LAB_KEK_LABEL = 'ztmysql-kek';

export interface LabKmsOutputs {
  readonly provider: 'pkcs11';
  readonly keyName: string;
  readonly module: string;
  readonly tokenLabel: string;
  readonly keyLabel: string;
  readonly confPath: string;
  /** JSON file holding `userPin` (and the SO PIN); mode 0600. */
  readonly pinFile: string;
}

interface HsmSecrets {
  soPin: string;
  userPin: string;
}

export function labHsmPaths(inst: LabInstance): { dir: string; tokenDir: string; confPath: string; pinFile: string; tokenLabel: string } {
  const dir = join(inst.dir, 'softhsm');
  return {
    dir,
    tokenDir: join(dir, 'tokens'),
    confPath: join(dir, 'softhsm2.conf'),
    pinFile: join(inst.dir, 'secrets', 'hsm.json'),
    tokenLabel: `ztmysql-${inst.name}`,
  };
}

/** What outputs.json says about the lab's KMS (no secrets: the PIN stays in pinFile). */
export function labKmsOutputs(inst: LabInstance): LabKmsOutputs {
  const p = labHsmPaths(inst);
  return {
    provider: 'pkcs11',
    keyName: `pkcs11:token=${encodeURIComponent(p.tokenLabel)};object=${encodeURIComponent(LAB_KEK_LABEL)}`,
    module: DEFAULT_SOFTHSM_LIBRARY,
    tokenLabel: p.tokenLabel,
    keyLabel: LAB_KEK_LABEL,
    confPath: p.confPath,
    pinFile: p.pinFile,
  };
}

function ensureHsmSecrets(pinFile: string): HsmSecrets {
  mkdirSync(join(pinFile, '..'), { recursive: true, mode: 0o700 });
  if (existsSync(pinFile)) {
    const s = JSON.parse(readFileSync(pinFile, 'utf8')) as Partial<HsmSecrets>;
    if (s.soPin && s.userPin) return { soPin: s.soPin, userPin: s.userPin };
  }
  const pin = () => randomBytes(24).toString('base64url');
  const s = { soPin: pin(), userPin: pin() };
  writeFileSync(pinFile, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  return s;
}

/**
 * Initialise the instance's token (once) and make sure every key in `keyLabels` exists on
 * it (default: the lab KEK). Idempotent. Returns the CKA_ID (hex) of each key.
 */
export function ensureLabHsm(inst: LabInstance, keyLabels: readonly string[] = [LAB_KEK_LABEL]): Record<string, string> {
  const p = labHsmPaths(inst);
  const secrets = ensureHsmSecrets(p.pinFile);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const request = JSON.stringify({
    tokenDir: p.tokenDir, confPath: p.confPath, tokenLabel: p.tokenLabel, keyLabels: [...keyLabels],
    soPin: secrets.soPin, userPin: secrets.userPin,
  });
  const loader = pathToFileURL(require.resolve('tsx')).href;
  const env = { ...process.env };
  delete env.SOFTHSM2_CONF;
  const r = run([process.execPath, '--import', loader, join(__dirname, 'hsmInit.ts')], { input: request, env, allowFail: true });
  if (r.status !== 0) throw new Error(`lab ${inst.name}: SoftHSM token setup failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return (JSON.parse(r.stdout) as { keys: Record<string, string> }).keys;
}
