// What a check gets: the deployment outputs, mysql2 connections per principal, the
// operator's SSH (when the outputs carry one), and a place to write evidence.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../client/connection';
import { DeploymentOutputs } from '../../client/deploymentOutputs';
import { SshTarget, sshExec } from '../ssh';
import { shq } from '../../provisioning/shell';
import { NotRun } from './types';

export class ProveContext {
  constructor(readonly outputs: DeploymentOutputs, readonly bundleDir: string) {}

  /** Writes an evidence file under evidence/ and returns its bundle-relative path. */
  evidence(name: string, content: string | Buffer): string {
    const rel = join('evidence', name);
    mkdirSync(dirname(join(this.bundleDir, rel)), { recursive: true });
    writeFileSync(join(this.bundleDir, rel), content);
    return rel;
  }

  connect(principal: string, extra: Partial<mysql.ConnectionOptions> = {}): Promise<mysql.Connection> {
    return mysql.createConnection(connectionOptions(this.outputs, principal, { database: undefined, ...extra }));
  }

  async query(principal: string, sql: string, params: unknown[] = []): Promise<mysql.RowDataPacket[]> {
    const conn = await this.connect(principal);
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, params);
      return rows;
    } finally {
      await conn.end();
    }
  }

  get ssh(): SshTarget | undefined {
    const s = this.outputs.ssh;
    if (!s || !s.hostKey) return undefined;
    return { host: s.host, port: s.port, user: s.user, privateKeyPath: s.privateKeyPath, hostKey: s.hostKey };
  }

  /** Runs a read-only command as root on the host; NotRun when no operator SSH is configured. */
  async onHost(script: string): Promise<string> {
    const target = this.ssh;
    if (!target) throw new NotRun('no operator SSH access in the deployment outputs');
    const r = await sshExec(target, `sudo -n -- /bin/bash -c ${shq(script)}`);
    if (r.code !== 0) throw new Error(`host command failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
    return r.stdout;
  }
}
