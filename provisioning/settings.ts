// Typed settings for the host plan and the validation that runs before anything
// is rendered: a bad value fails here with a message naming it, never on the host.
import { isIP } from 'node:net';
import { Ipv4Cidr, parseCidr, parseIpv4 } from './cidr';

export type PrincipalRole = 'owner' | 'app' | 'auditor';

export interface PrincipalSpec {
  /** MySQL user name and certificate CN. Lowercase letters, digits, underscore. */
  readonly name: string;
  readonly role: PrincipalRole;
}

export interface ProvisioningSettings {
  /** Address mysqld binds to and the server certificate names (the host's private IP). */
  readonly hostAddress: string;
  /** DNS name in the server certificate; clients verify it. */
  readonly serverName: string;
  readonly mysqlPort?: number;
  /** Application database. */
  readonly database?: string;
  /** The SSH user the plan runs as (sudo to root); the only user sshd admits. */
  readonly deployUser: string;
  /** Sources allowed to reach SSH (22/tcp). */
  readonly deployRanges: readonly string[];
  /** Sources allowed to reach MySQL (3306/tcp); also the accounts' host patterns. */
  readonly clientRanges: readonly string[];
  readonly principals: readonly PrincipalSpec[];
  /** Organisation in every certificate subject (O=). */
  readonly organization?: string;
  /** Deployment name, part of the CA's CN. */
  readonly deploymentName: string;
  /** Extra Debian packages to ensure on the host. */
  readonly extraPackages?: readonly string[];
  /** Where rsyslog also forwards anchor lines over TCP (the lab's collector); GCP uses the Ops Agent. */
  readonly anchorForward?: { readonly host: string; readonly port: number };
}

export interface ValidSettings {
  readonly hostAddress: string;
  readonly serverName: string;
  readonly mysqlPort: number;
  readonly database: string;
  readonly deployUser: string;
  readonly deployRanges: readonly Ipv4Cidr[];
  readonly clientRanges: readonly Ipv4Cidr[];
  readonly principals: readonly PrincipalSpec[];
  readonly organization: string;
  readonly deploymentName: string;
  readonly extraPackages: readonly string[];
  readonly anchorForward?: { readonly host: string; readonly port: number };
}

export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid provisioning settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SettingsError';
  }
}

const PRINCIPAL_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const SUBJECT_TEXT = /^[A-Za-z0-9 ._-]{1,64}$/;
const DB_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
const ROLES: readonly PrincipalRole[] = ['owner', 'app', 'auditor'];
/** Accounts MySQL or Debian create for themselves; a principal may not take their names. */
const RESERVED_USERS = new Set(['root', 'mysql', 'debian_sys_maint', 'ztmysql_definer']);

/** Validates every field and collects all problems, so one run shows them all. */
export function validateSettings(s: ProvisioningSettings): ValidSettings {
  const problems: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };

  check(isIP(s.hostAddress ?? '') === 4 && parseIpv4(s.hostAddress) !== undefined,
    `hostAddress ${JSON.stringify(s.hostAddress)} must be an IPv4 address`);
  check(typeof s.serverName === 'string' && DNS_NAME.test(s.serverName),
    `serverName ${JSON.stringify(s.serverName)} must be a lowercase DNS name`);
  const mysqlPort = s.mysqlPort ?? 3306;
  check(Number.isInteger(mysqlPort) && mysqlPort > 0 && mysqlPort < 65536 && mysqlPort !== 22 && mysqlPort !== 33060,
    `mysqlPort ${JSON.stringify(s.mysqlPort)} must be a TCP port other than 22 and 33060`);
  const database = s.database ?? 'ztmysql';
  check(DB_NAME.test(database), `database ${JSON.stringify(database)} must match ${DB_NAME}`);
  check(typeof s.deployUser === 'string' && UNIX_USER.test(s.deployUser) && s.deployUser !== 'root',
    `deployUser ${JSON.stringify(s.deployUser)} must be a non-root Unix user name`);
  const organization = s.organization ?? 'ztmysql';
  check(SUBJECT_TEXT.test(organization), `organization ${JSON.stringify(organization)} must match ${SUBJECT_TEXT}`);
  check(typeof s.deploymentName === 'string' && SUBJECT_TEXT.test(s.deploymentName),
    `deploymentName ${JSON.stringify(s.deploymentName)} must match ${SUBJECT_TEXT}`);

  const ranges = (field: string, values: readonly string[] | undefined): Ipv4Cidr[] => {
    if (!Array.isArray(values) || values.length === 0) {
      problems.push(`${field} must list at least one CIDR range`);
      return [];
    }
    const out: Ipv4Cidr[] = [];
    for (const v of values) {
      try {
        out.push(parseCidr(v, `${field} entry`));
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return out;
  };
  const deployRanges = ranges('deployRanges', s.deployRanges);
  const clientRanges = ranges('clientRanges', s.clientRanges);
  for (const r of [...deployRanges, ...clientRanges]) {
    if (r.prefix === 0) problems.push(`range ${r.text} opens the port to the whole internet; list the real source ranges`);
  }

  const principals = Array.isArray(s.principals) ? s.principals : [];
  const seen = new Set<string>();
  for (const p of principals) {
    const name = p?.name;
    if (typeof name !== 'string' || !PRINCIPAL_NAME.test(name)) {
      problems.push(`principal name ${JSON.stringify(name)} must be 1-32 characters of a-z, 0-9 and _, starting with a letter (no quotes or spaces)`);
    } else if (RESERVED_USERS.has(name) || name.startsWith('mysql')) {
      problems.push(`principal name ${JSON.stringify(name)} is reserved`);
    } else if (seen.has(name)) {
      problems.push(`principal name ${JSON.stringify(name)} is listed twice`);
    }
    if (typeof name === 'string') seen.add(name);
    if (!ROLES.includes(p?.role)) problems.push(`principal ${JSON.stringify(name)} has unknown role ${JSON.stringify(p?.role)} (expected ${ROLES.join(', ')})`);
  }
  for (const role of ROLES) {
    check(principals.some((p) => p?.role === role), `principals must include one with role "${role}"`);
  }
  check(principals.filter((p) => p?.role === 'owner').length <= 1, 'only one principal may have role "owner"');

  const extraPackages = s.extraPackages ?? [];
  for (const pkg of extraPackages) check(PACKAGE.test(pkg), `extra package ${JSON.stringify(pkg)} is not a Debian package name`);

  if (s.anchorForward) {
    const f = s.anchorForward;
    check(isIP(f.host ?? '') === 4, `anchorForward.host ${JSON.stringify(f.host)} must be an IPv4 address`);
    check(Number.isInteger(f.port) && f.port > 0 && f.port < 65536, `anchorForward.port ${JSON.stringify(f.port)} must be a TCP port`);
  }

  if (problems.length > 0) throw new SettingsError(problems);
  return {
    hostAddress: s.hostAddress, serverName: s.serverName, mysqlPort, database,
    deployUser: s.deployUser, deployRanges, clientRanges, principals: [...principals],
    organization, deploymentName: s.deploymentName, extraPackages: [...extraPackages],
    anchorForward: s.anchorForward ? { host: s.anchorForward.host, port: s.anchorForward.port } : undefined,
  };
}
