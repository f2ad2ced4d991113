// The lab's stand-in for Cloud Logging + a GCS log sink: a syslog receiver on the
// host side of the lab network that writes anchor lines as LogEntry JSON, in the
// object layout a sink uses, and makes each closed shard read-only.
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ANCHOR_LOG_ID, anchorRecordProblem, AnchorRecord, exportObjectName, LogEntry } from '../audit/anchorRecord';

export interface CollectorOptions {
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  /** A shard is closed (made read-only) after this many seconds, and at each hour. */
  readonly batchSeconds: number;
  readonly project: string;
  readonly instanceId: string;
  readonly log?: (line: string) => void;
}

/** One line as the rsyslog template on the host sends it. */
interface ForwardedLine {
  readonly ts: string;
  readonly host: string;
  readonly tag: string;
  readonly msg: string;
}

export class AnchorCollector {
  private server?: net.Server;
  private shard?: { path: string; hour: string; openedAt: number };
  private timer?: NodeJS.Timeout;
  private readonly highestShard = new Map<string, number>();
  accepted = 0;
  rejected = 0;

  constructor(private readonly opts: CollectorOptions) {}

  start(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o755 });
    this.server = net.createServer((socket) => {
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          this.handle(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
        if (buffer.length > 1 << 20) socket.destroy(); // no line is that long
      });
      socket.on('error', () => undefined);
    });
    this.timer = setInterval(() => this.closeIfDue(Date.now()), 1000);
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port, this.opts.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.closeShard();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Parses, validates and stores one forwarded line; anything malformed is counted and dropped. */
  handle(raw: string, now = new Date()): boolean {
    let line: ForwardedLine;
    let record: AnchorRecord;
    try {
      line = JSON.parse(raw);
      if (line.tag !== ANCHOR_LOG_ID) throw new Error(`tag ${line.tag}`);
      record = JSON.parse(String(line.msg).trim());
      const problem = anchorRecordProblem(record);
      if (problem) throw new Error(problem);
    } catch (e) {
      this.rejected++;
      this.opts.log?.(`collector: dropped a line: ${(e as Error).message}`);
      return false;
    }
    const entry: LogEntry = {
      insertId: createHash('sha256').update(raw).digest('hex').slice(0, 20),
      logName: `projects/${this.opts.project}/logs/${ANCHOR_LOG_ID}`,
      resource: { type: 'gce_instance', labels: { project_id: this.opts.project, instance_id: this.opts.instanceId, zone: 'lab' } },
      timestamp: new Date(Date.parse(line.ts) || now.getTime()).toISOString(),
      receiveTimestamp: now.toISOString(),
      severity: 'NOTICE',
      jsonPayload: record,
    };
    appendFileSync(this.shardFor(now), JSON.stringify(entry) + '\n', { mode: 0o644 });
    this.accepted++;
    return true;
  }

  private shardFor(now: Date): string {
    const hour = now.toISOString().slice(0, 13);
    this.closeIfDue(now.getTime(), hour);
    if (!this.shard) {
      // Next shard number: one past the highest ever used this hour (kept in memory and
      // on disk), so a removed shard leaves a hole instead of being silently refilled.
      const first = join(this.opts.dir, exportObjectName(ANCHOR_LOG_ID, now, 0));
      const hourDir = dirname(first);
      mkdirSync(hourDir, { recursive: true, mode: 0o755 });
      const prefix = basename(first).replace(/S0\.json$/, 'S');
      const used = readdirSync(hourDir).filter((f) => f.startsWith(prefix)).map((f) => Number(f.slice(prefix.length, -'.json'.length)));
      const highest = Math.max(-1, this.highestShard.get(hour) ?? -1, ...used.filter(Number.isInteger));
      this.highestShard.set(hour, highest + 1);
      const path = join(hourDir, `${prefix}${highest + 1}.json`);
      this.shard = { path, hour, openedAt: now.getTime() };
    }
    return this.shard.path;
  }

  private closeIfDue(nowMs: number, hour?: string): void {
    if (!this.shard) return;
    if (nowMs - this.shard.openedAt >= this.opts.batchSeconds * 1000 || (hour && hour !== this.shard.hour)) this.closeShard();
  }

  private closeShard(): void {
    if (this.shard && existsSync(this.shard.path)) chmodSync(this.shard.path, 0o444);
    this.shard = undefined;
  }
}
