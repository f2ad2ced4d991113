// The stack's typed configuration and its validation. validateStackConfig() runs
// before any resource is registered and throws one error listing every problem, so a
// bad stack file fails in preview with all its mistakes named at once.
//
// Secure defaults: every weakening option is off unless asked for by its own name
// (allowExternalIp, unprotectKmsKeys, unlockedRetentionInProd does not exist at all).
import { isIP } from 'node:net';
import { Ipv4Cidr, cidrContains, parseCidr, parseIpv4 } from '../provisioning/cidr';
import { PrincipalSpec, ProvisioningSettings, validateSettings } from '../provisioning/settings';

export type Environment = 'prod' | 'dev';

/** Raw stack configuration (namespace `ztmysql`), as written in Pulumi.<stack>.yaml. */
export interface RawStackConfig {
  readonly environment?: unknown;
  readonly project?: unknown;
  readonly region?: unknown;
  readonly zone?: unknown;
  readonly deploymentName?: unknown;
  readonly organization?: unknown;
  readonly serverName?: unknown;
  readonly database?: unknown;
  readonly subnetCidr?: unknown;
  readonly hostAddress?: unknown;
  readonly clientRanges?: unknown;
  readonly deployRanges?: unknown;
  readonly principals?: unknown;
  readonly appIdentities?: unknown;
  readonly deployServiceAccount?: unknown;
  readonly deployPosixUser?: unknown;
  readonly machineType?: unknown;
  readonly confidentialCompute?: unknown;
  readonly allowExternalIp?: unknown;
  readonly retentionDays?: unknown;
  readonly retentionLocked?: unknown;
  readonly retentionLockPending?: unknown;
  readonly minimumRetentionDays?: unknown;
  readonly kmsRotationDays?: unknown;
  readonly kmsLocation?: unknown;
  readonly unprotectKmsKeys?: unknown;
  readonly mlKemKey?: unknown;
  readonly archiveCmek?: unknown;
  readonly hostKey?: unknown;
  readonly revokedSerials?: unknown;
  readonly crlRefreshDays?: unknown;
  readonly certValidityDays?: unknown;
}

export interface StackConfig {
  readonly environment: Environment;
  readonly project: string;
  readonly region: string;
  readonly zone: string;
  readonly deploymentName: string;
  readonly organization: string;
  readonly serverName: string;
  readonly database: string;
  readonly subnetCidr: string;
  /** Static internal address of the VM; the plan binds mysqld to it and the server certificate names it. */
  readonly hostAddress: string;
  readonly clientRanges: readonly string[];
  readonly deployRanges: readonly string[];
  readonly principals: readonly PrincipalSpec[];
  /** IAM members ("serviceAccount:..."), the only identities that may use the data key. */
  readonly appIdentities: readonly string[];
  /** The service account `pulumi up` runs as; its OS Login profile gets the deploy key. */
  readonly deployServiceAccount: string;
  /** Its OS Login POSIX user name (sa_<uniqueId>), the plan's deployUser. */
  readonly deployPosixUser: string;
  readonly machineType: string;
  readonly confidentialCompute: boolean;
  /** Unsafe: gives the VM an external address. Off unless asked for by this name. */
  readonly allowExternalIp: boolean;
  readonly retentionDays: number;
  readonly retentionLocked: boolean;
  /** Phase 1 of the two-phase lock in prod: unlocked until anchors are verified. Must be named. */
  readonly retentionLockPending: boolean;
  readonly minimumRetentionDays: number;
  readonly kmsRotationDays: number;
  readonly kmsLocation: string;
  /** Unsafe: drops `protect` from the KMS key ring and keys (dev teardown only). */
  readonly unprotectKmsKeys: boolean;
  readonly mlKemKey: boolean;
  readonly archiveCmek: boolean;
  /** Pinned SSH host key ("ssh-ed25519 AAAA..."); default: the key the guest agent publishes. */
  readonly hostKey?: string;
  readonly revokedSerials: readonly { serial: string; revokedAt: string }[];
  readonly crlRefreshDays: number;
  readonly certValidityDays: number;
  /** Protection follows the environment: on in prod. */
  readonly deletionProtection: boolean;
}

export class StackConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid ztmysql stack configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'StackConfigError';
  }
}

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]$/;
const ZONE = /^[a-z]+-[a-z]+[0-9]-[a-z]$/;
const SA_EMAIL = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;
const IAM_MEMBER = /^(serviceAccount|user|group|principal|principalSet):\S+$/;
const POSIX_SA_USER = /^sa_[0-9]{10,32}$/;
const MACHINE_TYPE = /^[a-z0-9]+-[a-z0-9-]+$/;
const HOST_KEY = /^ssh-ed25519 [A-Za-z0-9+/]{68}$/;
/** GCS retention limit: 3,155,760,000 s (100 years). */
const MAX_RETENTION_DAYS = 36_524;

/** The source ranges that mean "anyone". */
function isWorldOpen(r: Ipv4Cidr): boolean {
  return r.prefix === 0;
}

/** Validates the raw config and applies the secure defaults. Throws StackConfigError listing every problem. */
export function validateStackConfig(raw: RawStackConfig): StackConfig {
  const problems: string[] = [];
  const str = (key: keyof RawStackConfig, re?: RegExp, fallback?: string): string => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'string' || v === '') {
      problems.push(`${key} is required`);
      return '';
    }
    if (re && !re.test(v)) problems.push(`${key} ${JSON.stringify(v)} must match ${re}`);
    return v;
  };
  const bool = (key: keyof RawStackConfig, fallback: boolean): boolean => {
    const v = raw[key];
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    problems.push(`${key} must be true or false`);
    return fallback;
  };
  const int = (key: keyof RawStackConfig, fallback: number, min: number, max: number): number => {
    const v = raw[key] ?? fallback;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} ${JSON.stringify(v)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const list = (key: keyof RawStackConfig, required: boolean): unknown[] => {
    const v = raw[key];
    if (v === undefined) {
      if (required) problems.push(`${key} is required (a list)`);
      return [];
    }
    if (!Array.isArray(v)) {
      problems.push(`${key} must be a list`);
      return [];
    }
    if (required && v.length === 0) problems.push(`${key} must not be empty`);
    return v;
  };

  const environment = raw.environment;
  if (environment !== 'prod' && environment !== 'dev') problems.push(`environment ${JSON.stringify(environment)} must be "prod" or "dev"`);
  const prod = environment === 'prod';

  const project = str('project', PROJECT);
  const region = str('region', REGION);
  const zone = str('zone', ZONE);
  if (region && zone && !zone.startsWith(`${region}-`)) problems.push(`zone ${zone} is not in region ${region}`);
  const deploymentName = str('deploymentName');
  const organization = str('organization', undefined, 'ztmysql');
  const serverName = str('serverName');
  const database = str('database', undefined, 'ztmysql');

  // Network ranges: parse every one, refuse the whole internet and anything ambiguous.
  const ranges = (key: 'clientRanges' | 'deployRanges'): string[] => {
    const out: string[] = [];
    for (const v of list(key, true)) {
      if (typeof v !== 'string') {
        problems.push(`${key} entry ${JSON.stringify(v)} must be a string`);
        continue;
      }
      try {
        const r = parseCidr(v, `${key} entry`);
        if (isWorldOpen(r)) problems.push(`${key} entry ${v} opens ${key === 'clientRanges' ? 'MySQL (3306)' : 'SSH (22)'} to the whole internet; list the real source ranges`);
        else out.push(v);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return out;
  };
  const clientRanges = ranges('clientRanges');
  const deployRanges = ranges('deployRanges');

  let subnet: Ipv4Cidr | undefined;
  const subnetCidr = str('subnetCidr', undefined, '10.20.0.0/24');
  try {
    subnet = parseCidr(subnetCidr, 'subnetCidr');
    if (subnet.prefix < 8 || subnet.prefix > 29) problems.push(`subnetCidr ${subnetCidr} must be a /8 to /29 range`);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const hostAddress = str('hostAddress');
  if (hostAddress && subnet) {
    const v = parseIpv4(hostAddress);
    if (isIP(hostAddress) !== 4 || v === undefined) {
      problems.push(`hostAddress ${JSON.stringify(hostAddress)} must be an IPv4 address`);
    } else if (!cidrContains(subnet, hostAddress)) {
      problems.push(`hostAddress ${hostAddress} is not inside subnetCidr ${subnetCidr}`);
    } else {
      // GCP reserves the network, gateway, second-to-last and broadcast addresses.
      const base = parseIpv4(subnet.address) as number;
      const size = 2 ** (32 - subnet.prefix);
      if ([base, base + 1, base + size - 2, base + size - 1].includes(v)) {
        problems.push(`hostAddress ${hostAddress} is reserved by Google Cloud in ${subnetCidr}`);
      }
    }
  }

  const principals: PrincipalSpec[] = [];
  const rawPrincipals = list('principals', false);
  if (raw.principals === undefined || rawPrincipals.length === 0) {
    problems.push('principals is required: list one principal for each role (owner, app, auditor), e.g. [{name: app, role: app}]');
  }
  for (const p of rawPrincipals) {
    if (typeof p !== 'object' || p === null) {
      problems.push(`principal ${JSON.stringify(p)} must be an object {name, role}`);
      continue;
    }
    principals.push(p as PrincipalSpec);
  }

  const appIdentities: string[] = [];
  for (const m of list('appIdentities', true)) {
    if (typeof m !== 'string' || !IAM_MEMBER.test(m)) problems.push(`appIdentities entry ${JSON.stringify(m)} must be an IAM member like "serviceAccount:app@p.iam.gserviceaccount.com"`);
    else if (/^(allUsers|allAuthenticatedUsers)$/.test(m.split(':')[1] ?? '') || /:(allUsers|allAuthenticatedUsers)$/.test(m)) problems.push(`appIdentities entry ${m} is public`);
    else appIdentities.push(m);
  }
  const deployServiceAccount = str('deployServiceAccount', SA_EMAIL);
  const deployPosixUser = str('deployPosixUser', POSIX_SA_USER);
  const machineType = str('machineType', MACHINE_TYPE, 'n2d-standard-2');
  const confidentialCompute = bool('confidentialCompute', prod);
  if (confidentialCompute && !/^(n2d|c2d|c3d)-/.test(machineType)) {
    problems.push(`confidentialCompute (AMD SEV) needs an n2d, c2d or c3d machine type, not ${machineType}`);
  }
  const allowExternalIp = bool('allowExternalIp', false);
  if (prod && allowExternalIp) problems.push('allowExternalIp is not allowed in prod; reach the host through the VPC');

  const minimumRetentionDays = int('minimumRetentionDays', prod ? 400 : 1, 1, MAX_RETENTION_DAYS);
  const retentionDays = int('retentionDays', prod ? 400 : 7, 1, MAX_RETENTION_DAYS);
  if (retentionDays < minimumRetentionDays) problems.push(`retentionDays ${retentionDays} is shorter than minimumRetentionDays ${minimumRetentionDays}`);
  // No default: locking a bucket is irreversible, so prod must say so explicitly.
  let retentionLocked = false;
  if (raw.retentionLocked === undefined) {
    if (prod) problems.push('retentionLocked must be set to true in prod (the WORM archive is the audit trust root); see docs/deploying.md for the two-phase lock');
  } else {
    retentionLocked = bool('retentionLocked', false);
  }
  const retentionLockPending = bool('retentionLockPending', false);
  if (prod && raw.retentionLocked !== undefined && !retentionLocked && !retentionLockPending) {
    problems.push('retentionLocked is false, but the retention policy must be locked in prod (the WORM archive is the audit trust root); for phase 1 of the two-phase lock set retentionLockPending: true');
  }
  if (retentionLocked && retentionLockPending) problems.push('retentionLockPending must be removed once retentionLocked is true');
  const kmsRotationDays = int('kmsRotationDays', 90, 1, 365);
  const kmsLocation = str('kmsLocation', /^[a-z0-9-]+$/, region || 'global');
  const unprotectKmsKeys = bool('unprotectKmsKeys', false);
  if (prod && unprotectKmsKeys) problems.push('unprotectKmsKeys is not allowed in prod');
  const mlKemKey = bool('mlKemKey', false);
  const archiveCmek = bool('archiveCmek', true);
  const hostKey = raw.hostKey === undefined ? undefined : str('hostKey', HOST_KEY);
  const crlRefreshDays = int('crlRefreshDays', 7, 1, 30);
  const certValidityDays = int('certValidityDays', 397, 30, 825);

  const revokedSerials: { serial: string; revokedAt: string }[] = [];
  for (const r of list('revokedSerials', false)) {
    const o = r as { serial?: unknown; revokedAt?: unknown };
    if (typeof o?.serial !== 'string' || !/^(0x)?[0-9a-fA-F:]{1,60}$/.test(o.serial) || typeof o.revokedAt !== 'string' || Number.isNaN(Date.parse(o.revokedAt))) {
      problems.push(`revokedSerials entry ${JSON.stringify(r)} must be {serial: "<hex>", revokedAt: "<ISO date>"}`);
    } else {
      revokedSerials.push({ serial: o.serial, revokedAt: o.revokedAt });
    }
  }

  // The host plan's own validation (names, principals' roles, ports): reported here
  // too, so one run lists everything.
  {
    try {
      validateSettings(toProvisioningSettingsUnchecked({
        hostAddress, serverName, database, deployPosixUser, deployRanges, clientRanges, principals, organization, deploymentName,
      }));
    } catch (e) {
      const inner = (e as { problems?: readonly string[] }).problems ?? [(e as Error).message];
      for (const p of inner) if (!problems.some((q) => q.includes(p) || p.includes(q))) problems.push(p);
    }
  }

  if (problems.length > 0) throw new StackConfigError(problems);
  return {
    environment: environment as Environment, project, region, zone, deploymentName, organization, serverName, database,
    subnetCidr, hostAddress, clientRanges, deployRanges, principals, appIdentities, deployServiceAccount, deployPosixUser,
    machineType, confidentialCompute, allowExternalIp, retentionDays, retentionLocked, retentionLockPending, minimumRetentionDays,
    kmsRotationDays, kmsLocation, unprotectKmsKeys, mlKemKey, archiveCmek, hostKey, revokedSerials, crlRefreshDays,
    certValidityDays, deletionProtection: prod,
  };
}

function toProvisioningSettingsUnchecked(c: {
  hostAddress: string; serverName: string; database: string; deployPosixUser: string; deployRanges: readonly string[];
  clientRanges: readonly string[]; principals: readonly PrincipalSpec[]; organization: string; deploymentName: string;
}): ProvisioningSettings {
  return {
    hostAddress: c.hostAddress, serverName: c.serverName, database: c.database, deployUser: c.deployPosixUser,
    deployRanges: c.deployRanges, clientRanges: c.clientRanges, principals: c.principals,
    organization: c.organization, deploymentName: c.deploymentName,
  };
}

/** The host plan's settings for a validated stack config (the same shape the lab builds in labSettings). */
export function provisioningSettings(c: StackConfig): ProvisioningSettings {
  return toProvisioningSettingsUnchecked(c);
}

/** Reads every key of the `ztmysql` config namespace that validateStackConfig knows. */
export function readRawConfig(get: (key: string) => string | undefined): RawStackConfig {
  const keys: (keyof RawStackConfig)[] = [
    'environment', 'project', 'region', 'zone', 'deploymentName', 'organization', 'serverName', 'database', 'subnetCidr',
    'hostAddress', 'clientRanges', 'deployRanges', 'principals', 'appIdentities', 'deployServiceAccount', 'deployPosixUser',
    'machineType', 'confidentialCompute', 'allowExternalIp', 'retentionDays', 'retentionLocked', 'retentionLockPending', 'minimumRetentionDays',
    'kmsRotationDays', 'kmsLocation', 'unprotectKmsKeys', 'mlKemKey', 'archiveCmek', 'hostKey', 'revokedSerials',
    'crlRefreshDays', 'certValidityDays',
  ];
  const structured = new Set(['clientRanges', 'deployRanges', 'principals', 'appIdentities', 'revokedSerials']);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = get(k);
    if (v === undefined) continue;
    if (structured.has(k)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        out[k] = v; // reported as "must be a list"
      }
    } else {
      out[k] = v;
    }
  }
  return out as RawStackConfig;
}
