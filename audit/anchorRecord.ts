// The anchor record: what the host logs every 60 s (one JSON line through syslog) and
// what Cloud Logging stores as a LogEntry's jsonPayload, in the bucket or, in the lab,
// in files of the same export format.

export const ANCHOR_LOG_ID = 'ztmysql-anchor';
export const ANCHOR_RECORD_VERSION = 1;

export interface AnchorRecord {
  readonly ztmysql_anchor_version: number;
  /** @@server_uuid of the MySQL instance. */
  readonly server_uuid: string;
  /** Audit incarnation id (changes if the audit machinery is re-created). */
  readonly incarnation: string;
  readonly hostname: string;
  /** Latest checkpoint at emission time. */
  readonly tree_size: number;
  readonly root: string;
  readonly checkpoint_hash: string;
  readonly sealed_at: string;
  /** SHA-256 over triggers, routines, events, views and grants of the audit machinery. */
  readonly schema_fingerprint: string;
  readonly emitted_at: string;
  /**
   * Per-host counter, +1 on every anchor (kept in the service's state directory). A
   * removed anchor leaves a hole in it, wherever the anchors are stored.
   */
  readonly anchor_seq?: number;
}

/** A Cloud Logging LogEntry as a GCS log sink writes it (one JSON object per line). */
export interface LogEntry {
  readonly insertId: string;
  readonly logName: string;
  readonly resource: { readonly type: string; readonly labels: Readonly<Record<string, string>> };
  readonly timestamp: string;
  readonly receiveTimestamp: string;
  readonly severity: string;
  readonly jsonPayload: AnchorRecord;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Validates a payload; returns the problem, or undefined when it is a well-formed record. */
export function anchorRecordProblem(p: unknown): string | undefined {
  if (!p || typeof p !== 'object') return 'not an object';
  const r = p as Record<string, unknown>;
  if (r.ztmysql_anchor_version !== ANCHOR_RECORD_VERSION) return `unsupported ztmysql_anchor_version ${JSON.stringify(r.ztmysql_anchor_version)}`;
  if (typeof r.server_uuid !== 'string' || !/^[0-9a-f-]{36}$/.test(r.server_uuid)) return 'bad server_uuid';
  if (typeof r.tree_size !== 'number' || !Number.isSafeInteger(r.tree_size) || r.tree_size < 0) return 'bad tree_size';
  for (const k of ['root', 'checkpoint_hash', 'schema_fingerprint']) {
    if (typeof r[k] !== 'string' || !HEX64.test(r[k] as string)) return `bad ${k}`;
  }
  if (r.anchor_seq !== undefined && (typeof r.anchor_seq !== 'number' || !Number.isSafeInteger(r.anchor_seq) || r.anchor_seq < 1)) return 'bad anchor_seq';
  for (const k of ['emitted_at']) {
    if (typeof r[k] !== 'string' || Number.isNaN(Date.parse(r[k] as string))) return `bad ${k}`;
  }
  return undefined;
}

/** GCS sink object name for an entry: LOG_ID/YYYY/MM/DD/HH:00:00_HH:59:59_S<shard>.json */
export function exportObjectName(logId: string, timestamp: Date, shard: number): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const d = timestamp;
  const hh = pad(d.getUTCHours());
  return `${logId}/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${hh}:00:00_${hh}:59:59_S${shard}.json`;
}
