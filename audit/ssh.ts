// SSH to a deployment's host with ssh2 (operators, the lab runner, the proof): the host
// key is pinned, the command runs as an exec request and data goes on stdin, exactly
// as Pulumi's remote.Command does.
import { Client, ConnectConfig } from 'ssh2';
import { readFileSync } from 'node:fs';
import { shq } from '../provisioning/shell';

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  /** "ssh-ed25519 AAAA..." line of the host's public key. */
  readonly hostKey: string;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class SshSession {
  private constructor(private readonly client: Client) {}

  static connect(target: SshTarget, timeoutMs = 15000): Promise<SshSession> {
    const pinned = Buffer.from(target.hostKey.trim().split(/\s+/)[1] ?? '', 'base64');
    const client = new Client();
    const config: ConnectConfig = {
      host: target.host, port: target.port, username: target.user,
      privateKey: readFileSync(target.privateKeyPath), readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => pinned.length > 0 && key.equals(pinned),
    };
    return new Promise((resolve, reject) => {
      let settled = false;
      client.once('ready', () => { settled = true; resolve(new SshSession(client)); });
      // ssh2 may emit more than one error (e.g. reset after a failed handshake): keep a listener.
      client.on('error', (e) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(new Error(`ssh ${target.user}@${target.host}:${target.port}: ${e.message}`));
      });
      client.connect(config);
    });
  }

  exec(command: string, opts: { stdin?: string; onStdout?: (line: string) => void; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        let partial = '';
        const timer = opts.timeoutMs ? setTimeout(() => { stream.close(); reject(new Error(`remote command timed out after ${opts.timeoutMs} ms`)); }, opts.timeoutMs) : undefined;
        stream.on('data', (d: Buffer) => {
          const text = d.toString('utf8');
          stdout += text;
          if (opts.onStdout) {
            partial += text;
            const lines = partial.split('\n');
            partial = lines.pop() ?? '';
            lines.forEach(opts.onStdout);
          }
        });
        stream.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
        stream.on('close', (code: number | null) => {
          if (timer) clearTimeout(timer);
          if (opts.onStdout && partial) opts.onStdout(partial);
          resolve({ code, stdout, stderr });
        });
        stream.end(opts.stdin ?? '');
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

/** Runs one command on a fresh connection. */
export async function sshExec(target: SshTarget, command: string, stdin?: string): Promise<ExecResult> {
  const s = await SshSession.connect(target);
  try {
    return await s.exec(command, { stdin });
  } finally {
    s.close();
  }
}

/** Runs a command as root (sudo) and returns stdout; throws with stderr on failure. */
export async function sshRoot(target: SshTarget, script: string, stdin?: string): Promise<string> {
  const r = await sshExec(target, `sudo -n -- /bin/bash -c ${shq(script)}`, stdin);
  if (r.code !== 0) throw new Error(`remote command failed (${r.code}): ${script.slice(0, 200)}\n${r.stderr.trim()}`);
  return r.stdout;
}
