// The guardrails as pure functions: (resource type, props[, config]) -> violation
// messages. policy/index.ts registers them in the "ztmysql-guardrails" PolicyPack; the
// tests call them directly on fake resource properties.
import { anchorFilterProject } from '../components/anchorFilter';

export const TYPES = {
  cryptoKey: 'gcp:kms/cryptoKey:CryptoKey',
  bucket: 'gcp:storage/bucket:Bucket',
  firewall: 'gcp:compute/firewall:Firewall',
  instance: 'gcp:compute/instance:Instance',
  projectSink: 'gcp:logging/projectSink:ProjectSink',
} as const;

export interface GuardrailConfig {
  /** Refuse an unlocked retention policy (default true; the dev policy config sets false). */
  readonly requireLockedRetention: boolean;
  /** Refuse a retention period shorter than this (days). */
  readonly minimumRetentionDays: number;
}

export const DEFAULT_GUARDRAIL_CONFIG: GuardrailConfig = { requireLockedRetention: true, minimumRetentionDays: 365 };

type Props = Readonly<Record<string, unknown>>;
const obj = (v: unknown): Props => (v && typeof v === 'object' ? (v as Props) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isTrue = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(true|1|yes)$/i.test(v));
const isFalse = (v: unknown): boolean => v === false || (typeof v === 'string' && /^(false|0|no)$/i.test(v));

/** KMS keys: HSM protection, explicit algorithm, rotation for symmetric keys. */
export function kmsKeyViolations(type: string, props: Props): string[] {
  if (type !== TYPES.cryptoKey) return [];
  const out: string[] = [];
  const t = obj(props.versionTemplate);
  if (t.protectionLevel !== 'HSM') out.push(`KMS key ${String(props.name ?? '')} must use protectionLevel HSM (is ${JSON.stringify(t.protectionLevel ?? 'SOFTWARE')})`);
  if (typeof t.algorithm !== 'string' || t.algorithm === '') out.push('KMS key must name its algorithm explicitly in versionTemplate');
  const purpose = props.purpose ?? 'ENCRYPT_DECRYPT';
  if (purpose === 'ENCRYPT_DECRYPT') {
    if (t.algorithm !== undefined && t.algorithm !== 'GOOGLE_SYMMETRIC_ENCRYPTION') out.push(`symmetric KMS key must use GOOGLE_SYMMETRIC_ENCRYPTION (is ${String(t.algorithm)})`);
    if (!props.rotationPeriod) out.push('symmetric KMS key must have a rotationPeriod');
  }
  return out;
}

/** The WORM bucket: public access prevented, uniform access, versioning, a locked and long enough retention. */
export function bucketViolations(type: string, props: Props, config: GuardrailConfig = DEFAULT_GUARDRAIL_CONFIG): string[] {
  if (type !== TYPES.bucket) return [];
  const out: string[] = [];
  if (props.publicAccessPrevention !== 'enforced') out.push(`bucket publicAccessPrevention must be "enforced" (is ${JSON.stringify(props.publicAccessPrevention ?? 'inherited')})`);
  if (props.uniformBucketLevelAccess !== true) out.push('bucket must use uniformBucketLevelAccess (no per-object ACLs)');
  if (obj(props.versioning).enabled !== true) out.push('bucket versioning must be enabled');
  const r = obj(props.retentionPolicy);
  if (r.retentionPeriod === undefined) {
    out.push('bucket has no retention policy: the anchor archive must be WORM');
    return out;
  }
  if (config.requireLockedRetention && r.isLocked !== true) out.push('bucket retention policy must be locked (isLocked: true)');
  const seconds = Number(r.retentionPeriod);
  const min = config.minimumRetentionDays * 86_400;
  if (!Number.isFinite(seconds) || seconds < min) out.push(`bucket retention ${r.retentionPeriod}s is shorter than the required minimum of ${config.minimumRetentionDays} days (${min}s)`);
  return out;
}

/** Whether a firewall port spec ("22", "3300-3310") covers `port`. */
function portCovered(spec: unknown, port: number): boolean {
  const m = /^(\d+)(?:-(\d+))?$/.exec(String(spec));
  if (!m) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return port >= lo && port <= hi;
}

/** Ingress that lets 0.0.0.0/0 reach MySQL (3306) or SSH (22). */
export function firewallViolations(type: string, props: Props): string[] {
  if (type !== TYPES.firewall) return [];
  if ((props.direction ?? 'INGRESS') !== 'INGRESS' || isTrue(props.disabled)) return [];
  const ranges = list(props.sourceRanges).map(String);
  const noSource = ranges.length === 0 && list(props.sourceTags).length === 0 && list(props.sourceServiceAccounts).length === 0;
  const world = noSource || ranges.some((r) => /\/0$/.test(r));
  if (!world) return [];
  const out: string[] = [];
  for (const port of [3306, 22]) {
    const opened = list(props.allows).some((a) => {
      const rule = obj(a);
      const proto = String(rule.protocol ?? '').toLowerCase();
      if (proto !== 'tcp' && proto !== 'all' && proto !== '6') return false;
      const ports = list(rule.ports);
      return ports.length === 0 || ports.some((p) => portCovered(p, port));
    });
    if (opened) out.push(`firewall ${String(props.name ?? '')} opens port ${port} to the whole internet (${noSource ? 'no source given' : ranges.join(', ')})`);
  }
  return out;
}

/** The VM: Shielded VM features on, serial port off, OS Login on, project SSH keys blocked. */
export function instanceViolations(type: string, props: Props): string[] {
  if (type !== TYPES.instance) return [];
  const out: string[] = [];
  const s = obj(props.shieldedInstanceConfig);
  for (const f of ['enableSecureBoot', 'enableVtpm', 'enableIntegrityMonitoring']) {
    if (s[f] !== true) out.push(`Shielded VM ${f} must be true`);
  }
  const md = obj(props.metadata);
  if (!isFalse(md['serial-port-enable'])) out.push('metadata serial-port-enable must be FALSE (interactive serial console bypasses SSH controls)');
  if (!isTrue(md['enable-oslogin'])) out.push('metadata enable-oslogin must be TRUE');
  if (!isTrue(md['block-project-ssh-keys'])) out.push('metadata block-project-ssh-keys must be TRUE');
  if (md['ssh-keys'] !== undefined || md.sshKeys !== undefined) out.push('metadata must not carry ssh-keys (OS Login manages access)');
  return out;
}

/** Advisory: the VM should have no external address. */
export function externalIpViolations(type: string, props: Props): string[] {
  if (type !== TYPES.instance) return [];
  return list(props.networkInterfaces).some((n) => list(obj(n).accessConfigs).length > 0)
    ? ['the database VM has an external IP address; reach it through the VPC instead'] : [];
}

export const ANCHOR_SINK_PREFIX = 'ztmysql-anchor';

/** The anchor sink: canonical anchor filter (for its own project), enabled, no exclusions, own writer identity. */
export function anchorSinkViolations(type: string, props: Props): string[] {
  if (type !== TYPES.projectSink) return [];
  const name = String(props.name ?? '');
  if (!name.startsWith(ANCHOR_SINK_PREFIX)) return [];
  const out: string[] = [];
  const project = anchorFilterProject(typeof props.filter === 'string' ? props.filter : undefined);
  if (!project) out.push(`sink ${name}: filter ${JSON.stringify(props.filter ?? '')} does not match exactly the anchor lines (see anchorSinkFilter)`);
  else if (typeof props.project === 'string' && props.project !== project) out.push(`sink ${name}: filter selects project ${project}, but the sink is in ${props.project}`);
  if (isTrue(props.disabled)) out.push(`sink ${name} is disabled`);
  if (list(props.exclusions).length > 0) out.push(`sink ${name} has exclusions; anchors must never be excluded`);
  if (props.uniqueWriterIdentity === false) out.push(`sink ${name} must use a unique writer identity`);
  if (typeof props.destination === 'string' && !props.destination.startsWith('storage.googleapis.com/')) out.push(`sink ${name} must export to a Cloud Storage bucket`);
  return out;
}

/** Stack-level: a stack with a WORM bucket must also carry the anchor sink (deleting it is a weakening too). */
export function stackViolations(resources: readonly { type: string; props: Props }[]): string[] {
  const hasBucket = resources.some((r) => r.type === TYPES.bucket && obj(r.props.retentionPolicy).retentionPeriod !== undefined);
  const hasSink = resources.some((r) => r.type === TYPES.projectSink && String(r.props.name ?? '').startsWith(ANCHOR_SINK_PREFIX));
  return hasBucket && !hasSink ? ['the stack has the WORM bucket but no anchor sink (ztmysql-anchors)'] : [];
}

/** Every mandatory violation of one resource. */
export function allViolations(type: string, props: Props, config: GuardrailConfig = DEFAULT_GUARDRAIL_CONFIG): string[] {
  return [
    ...kmsKeyViolations(type, props), ...bucketViolations(type, props, config), ...firewallViolations(type, props),
    ...instanceViolations(type, props), ...anchorSinkViolations(type, props),
  ];
}
