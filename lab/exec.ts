// Running host commands: argv arrays only (no shell), errors that name the command
// and carry the tail of its stderr. Never pass a secret as an argument.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly argv: readonly string[], readonly status: number | null, readonly stderr: string) {
    super(`command failed (${status ?? 'signal'}): ${argv.join(' ')}${stderr ? `\n${stderr.trim().split('\n').slice(-8).join('\n')}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(argv: readonly string[], opts: SpawnSyncOptions & { input?: string; allowFail?: boolean } = {}): RunResult {
  const { allowFail, ...spawnOpts } = opts;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...spawnOpts });
  if (r.error) throw new Error(`cannot run ${argv[0]}: ${r.error.message}`);
  const result = { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (!allowFail && r.status !== 0) throw new CommandError(argv, r.status, result.stderr);
  return result;
}

export function succeeds(argv: readonly string[]): boolean {
  return run(argv, { allowFail: true, stdio: ['ignore', 'pipe', 'pipe'] }).status === 0;
}

export function which(cmd: string): boolean {
  return succeeds(['sh', '-c', `command -v ${cmd} >/dev/null 2>&1`]);
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
