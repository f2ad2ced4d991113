// Child process of lab/hsm.ts: initialises the lab's SoftHSM2 token and makes sure the
// requested wrapping keys exist. Runs in its own process so SOFTHSM2_CONF (which
// configureSoftHsm sets in process.env) never leaks into the lab's process. The
// request, PINs included, arrives as JSON on stdin; stdout is JSON without secrets.
import { initSoftHsmToken } from '../client/kms/softhsmToken';

interface Request {
  tokenDir: string;
  confPath: string;
  tokenLabel: string;
  keyLabels: string[];
  soPin: string;
  userPin: string;
  libraryPath?: string;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const req = JSON.parse(await readStdin()) as Request;
  const keys: Record<string, string> = {};
  for (const keyLabel of req.keyLabels) {
    const t = await initSoftHsmToken({
      tokenDir: req.tokenDir, confPath: req.confPath, tokenLabel: req.tokenLabel,
      soPin: req.soPin, userPin: req.userPin, keyLabel, libraryPath: req.libraryPath,
    });
    keys[keyLabel] = t.keyId;
  }
  process.stdout.write(JSON.stringify({ keys }) + '\n');
}

main().catch((e: unknown) => {
  // KeyWrapError messages carry no PINs; anything else is reduced to its class name.
  const msg = e instanceof Error && e.name === 'KeyWrapError' ? e.message : e instanceof Error ? `${e.name}` : 'unknown error';
  process.stderr.write(`hsm init: ${msg}\n`);
  process.exit(1);
});
