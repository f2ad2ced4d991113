// The anchor sink filter and its evaluation on a log entry. Pure (no Pulumi imports):
// the WormArchive component, the policy pack and the tests all use it.

export const ANCHOR_LOG_ID = 'ztmysql-anchor';
export const ANCHOR_VERSION_FIELD = 'ztmysql_anchor_version';

/** The Cloud Logging filter of the anchor sink. */
export function anchorSinkFilter(projectId: string): string {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) throw new Error(`project id ${JSON.stringify(projectId)} is not valid`);
  return `logName="projects/${projectId}/logs/${ANCHOR_LOG_ID}" AND jsonPayload.${ANCHOR_VERSION_FIELD}:*`;
}

/** The project id a filter is the canonical anchor filter for, or undefined if it is not one. */
export function anchorFilterProject(filter: string | undefined): string | undefined {
  if (typeof filter !== 'string') return undefined;
  const m = /^logName="projects\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/logs\/([^"]+)" AND jsonPayload\.([A-Za-z0-9_]+):\*$/.exec(filter);
  if (!m || m[2] !== ANCHOR_LOG_ID || m[3] !== ANCHOR_VERSION_FIELD) return undefined;
  return anchorSinkFilter(m[1]) === filter ? m[1] : undefined;
}

/** The parts of a Cloud Logging LogEntry the anchor filter looks at. */
export interface LogEntryLike {
  readonly logName?: string;
  readonly jsonPayload?: Readonly<Record<string, unknown>> | null;
  readonly textPayload?: string;
}

/**
 * Evaluates anchorSinkFilter(projectId) on one entry, with Cloud Logging semantics:
 * logName equality, and `field:*` true when the field is present and not null.
 */
export function matchesAnchorFilter(projectId: string, entry: LogEntryLike): boolean {
  if (entry.logName !== `projects/${projectId}/logs/${ANCHOR_LOG_ID}`) return false;
  const payload = entry.jsonPayload;
  if (!payload || typeof payload !== 'object') return false;
  return Object.prototype.hasOwnProperty.call(payload, ANCHOR_VERSION_FIELD) && payload[ANCHOR_VERSION_FIELD] !== null;
}

