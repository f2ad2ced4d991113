// MysqlHost: the network and the hardened VM the provisioning plan runs on.
//
// VPC without auto subnets, one subnet with Private Google Access, Cloud NAT for
// package downloads (the VM has no external address), firewall rules that admit
// 3306 only from the client ranges and 22 only from the deploy ranges, and a logged
// deny-all ingress rule at the lowest priority. A Shielded VM (optionally Confidential)
// with OS Login, no project-wide SSH keys, no serial port, a least-privilege service
// account and a boot disk encrypted with the infra KMS key.
import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import * as gcp from '@pulumi/gcp';

/**
 * Ubuntu 24.04 LTS. Its own "mysql-server" is Oracle MySQL 8.0, older than the 8.4 the
 * plan's packages step requires; the boot script adds Oracle's MySQL 8.4 LTS APT
 * repository (signing key pinned by fingerprint) and installs 8.4 before the plan runs.
 */
export const UBUNTU_IMAGE = 'ubuntu-os-cloud/ubuntu-2404-lts-amd64';
export const UBUNTU_SERIES = 'noble';
export const MYSQL_APT_TRACK = 'mysql-8.4-lts';
/** Oracle MySQL release engineering key (mysql-build@oss.oracle.com), as published in the MySQL manual. */
export const MYSQL_SIGNING_KEY_FINGERPRINT = 'BCA43417C3B485DD128EC6D4B7B3B788A8D3785C';
export const BOOT_READY_FILE = '/var/lib/ztmysql-boot/ready';
export const HOST_ROLES = ['roles/logging.logWriter', 'roles/monitoring.metricWriter'] as const;
export const NETWORK_TAG = 'ztmysql-db';

/** Instance metadata that the security properties depend on. */
export function hardenedMetadata(startupScript: string): Record<string, string> {
  return {
    'enable-oslogin': 'TRUE',
    'block-project-ssh-keys': 'TRUE',
    'serial-port-enable': 'FALSE',
    'enable-guest-attributes': 'TRUE', // the guest agent publishes the SSH host keys here
    'startup-script': startupScript,
  };
}

/**
 * The boot script (GCP only; the lab host has its packages in its rootfs): Oracle MySQL
 * 8.4 LTS repository with a fingerprint-pinned key, MySQL and the Ops Agent installed
 * non-interactively. It writes no configuration the plan owns: the plan's anchor step
 * places the rsyslog rule and the Ops Agent config (receiver "ztmysql-anchor") itself.
 * Holds no secret: metadata is readable by project viewers.
 */
export function renderStartupScript(): string {
  const body = [
    '#!/bin/bash',
    '# ztmysql boot preparation. Idempotent; re-run by the deploy preflight when it changes.',
    'set -euo pipefail',
    'umask 022',
    `FPR=${MYSQL_SIGNING_KEY_FINGERPRINT}`,
    'install -d -m 0755 /etc/apt/keyrings /var/lib/ztmysql-boot',
    'if [ ! -s /etc/apt/keyrings/mysql.gpg ]; then',
    '  tmp=$(mktemp -d)',
    '  curl -fsSL "https://keyserver.ubuntu.com/pks/lookup?op=get&search=0x$FPR" -o "$tmp/mysql.asc"',
    '  gpg --batch --homedir "$tmp" --import "$tmp/mysql.asc" 2>/dev/null',
    '  gpg --batch --homedir "$tmp" --with-colons --fingerprint "$FPR" | grep -q "^fpr:::::::::$FPR:" || { echo "MySQL signing key fingerprint mismatch" >&2; exit 1; }',
    '  gpg --batch --homedir "$tmp" --export "$FPR" > /etc/apt/keyrings/mysql.gpg',
    '  rm -rf "$tmp"',
    'fi',
    `echo "deb [signed-by=/etc/apt/keyrings/mysql.gpg] https://repo.mysql.com/apt/ubuntu/ ${UBUNTU_SERIES} ${MYSQL_APT_TRACK}" > /etc/apt/sources.list.d/mysql.list`,
    `printf 'Package: *\\nPin: origin repo.mysql.com\\nPin-Priority: 900\\n' > /etc/apt/preferences.d/ztmysql-mysql`,
    'if [ ! -s /etc/apt/keyrings/google-cloud.gpg ]; then',
    '  curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --dearmor > /etc/apt/keyrings/google-cloud.gpg',
    'fi',
    `echo "deb [signed-by=/etc/apt/keyrings/google-cloud.gpg] https://packages.cloud.google.com/apt google-cloud-ops-agent-${UBUNTU_SERIES}-all main" > /etc/apt/sources.list.d/google-cloud-ops-agent.list`,
    'apt-get update -q',
    'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mysql-server mysql-client google-cloud-ops-agent',
    'mysql --version | grep -Eq "Ver (8\\.4|9\\.)" || { echo "MySQL 8.4+ was not installed: $(mysql --version)" >&2; exit 1; }',
  ].join('\n');
  const digest = createHash('sha256').update(body).digest('hex');
  return `${body}\necho ${digest} > ${BOOT_READY_FILE}\n`;
}

/** The digest the boot script writes when it has finished. */
export function startupScriptDigest(script: string): string {
  const m = /\necho ([0-9a-f]{64}) > /.exec(script);
  if (!m) throw new Error('startup script has no completion digest');
  return m[1];
}

/**
 * Deploy-time wait (not part of the host plan; the lab needs no boot script): waits
 * until the current boot script has completed, re-running it once if the metadata
 * changed since boot. Bounded: 15 minutes.
 */
export function renderBootWaitCommand(script: string): string {
  const digest = startupScriptDigest(script);
  const inner = [
    `for i in $(seq 1 180); do`,
    `  [ "$(cat ${BOOT_READY_FILE} 2>/dev/null)" = ${digest} ] && exit 0`,
    `  if [ "$i" = 12 ]; then google_metadata_script_runner startup || true; fi`,
    `  sleep 5`,
    `done`,
    `echo "boot preparation did not finish; see journalctl -u google-startup-scripts" >&2`,
    `exit 1`,
  ].join('\n');
  return `sudo -n -- /bin/bash -c '${inner.replace(/'/g, `'\\''`)}' ztmysql-boot-wait`;
}

export interface MysqlHostArgs {
  readonly project: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  readonly zone: pulumi.Input<string>;
  readonly name: string;
  readonly subnetCidr: pulumi.Input<string>;
  /** Static internal address (inside subnetCidr); the plan's hostAddress. */
  readonly hostAddress: pulumi.Input<string>;
  /** Sources allowed to reach MySQL (3306/tcp). */
  readonly clientRanges: pulumi.Input<pulumi.Input<string>[]>;
  /** Sources allowed to reach SSH (22/tcp). */
  readonly deployRanges: pulumi.Input<pulumi.Input<string>[]>;
  readonly mysqlPort?: number;
  readonly machineType?: pulumi.Input<string>;
  readonly image?: pulumi.Input<string>;
  readonly bootDiskGb?: number;
  /** Full name of the KMS key that encrypts the boot disk (CMEK). Required. */
  readonly diskKmsKeyName: pulumi.Input<string>;
  /** Resources the VM must wait for (the grant that lets the Compute agent use the disk key). */
  readonly kmsReady?: pulumi.Resource[];
  /** AMD SEV Confidential VM (needs an n2d/c2d/c3d machine type). */
  readonly confidentialCompute?: boolean;
  /** Unsafe: an ephemeral external address on the VM. Off unless asked for by this name. */
  readonly allowExternalIp?: boolean;
  readonly deletionProtection?: boolean;
  /** The deploy identity (service account e-mail) whose OS Login profile gets the deploy key. */
  readonly deployServiceAccount: pulumi.Input<string>;
  /** The deploy key, OpenSSH public key form. */
  readonly deployPublicKey: pulumi.Input<string>;
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class MysqlHost extends pulumi.ComponentResource {
  readonly network: gcp.compute.Network;
  readonly subnet: gcp.compute.Subnetwork;
  readonly address: gcp.compute.Address;
  readonly serviceAccount: gcp.serviceaccount.Account;
  readonly instance: gcp.compute.Instance;
  readonly osLoginKey: gcp.oslogin.SshPublicKey;
  readonly firewalls: { readonly mysql: gcp.compute.Firewall; readonly ssh: gcp.compute.Firewall; readonly denyAll: gcp.compute.Firewall };
  /** Resources the first SSH connection needs (instance, OS Login key, login grants). */
  readonly sshReady: pulumi.Resource[];
  readonly privateIp: pulumi.Output<string>;
  readonly instanceName: pulumi.Output<string>;
  readonly startupScript: string;

  constructor(name: string, args: MysqlHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:mysqlHost:MysqlHost', name, {}, opts);
    const child = { parent: this };
    const port = String(args.mysqlPort ?? 3306);

    this.network = new gcp.compute.Network(`${name}-vpc`, {
      project: args.project, name: `${args.name}-vpc`, autoCreateSubnetworks: false, routingMode: 'REGIONAL',
    }, child);
    this.subnet = new gcp.compute.Subnetwork(`${name}-subnet`, {
      project: args.project, region: args.region, name: `${args.name}-subnet`, network: this.network.id,
      ipCidrRange: args.subnetCidr, privateIpGoogleAccess: true,
      logConfig: { aggregationInterval: 'INTERVAL_5_SEC', flowSampling: 1, metadata: 'INCLUDE_ALL_METADATA' },
    }, child);
    const router = new gcp.compute.Router(`${name}-router`, {
      project: args.project, region: args.region, name: `${args.name}-router`, network: this.network.id,
    }, child);
    new gcp.compute.RouterNat(`${name}-nat`, {
      project: args.project, region: args.region, name: `${args.name}-nat`, router: router.name,
      natIpAllocateOption: 'AUTO_ONLY', sourceSubnetworkIpRangesToNat: 'LIST_OF_SUBNETWORKS',
      subnetworks: [{ name: this.subnet.id, sourceIpRangesToNats: ['ALL_IP_RANGES'] }],
      logConfig: { enable: true, filter: 'ERRORS_ONLY' },
    }, child);

    const logged = { metadata: 'INCLUDE_ALL_METADATA' };
    this.firewalls = {
      mysql: new gcp.compute.Firewall(`${name}-allow-mysql`, {
        project: args.project, network: this.network.id, name: `${args.name}-allow-mysql`, direction: 'INGRESS', priority: 1000,
        allows: [{ protocol: 'tcp', ports: [port] }], sourceRanges: args.clientRanges, targetTags: [NETWORK_TAG], logConfig: logged,
      }, child),
      ssh: new gcp.compute.Firewall(`${name}-allow-ssh`, {
        project: args.project, network: this.network.id, name: `${args.name}-allow-ssh`, direction: 'INGRESS', priority: 1000,
        allows: [{ protocol: 'tcp', ports: ['22'] }], sourceRanges: args.deployRanges, targetTags: [NETWORK_TAG], logConfig: logged,
      }, child),
      denyAll: new gcp.compute.Firewall(`${name}-deny-all`, {
        project: args.project, network: this.network.id, name: `${args.name}-deny-all-ingress`, direction: 'INGRESS', priority: 65535,
        denies: [{ protocol: 'all' }], sourceRanges: ['0.0.0.0/0'], logConfig: logged,
      }, child),
    };

    this.address = new gcp.compute.Address(`${name}-ip`, {
      project: args.project, region: args.region, name: `${args.name}-ip`, addressType: 'INTERNAL',
      subnetwork: this.subnet.id, address: args.hostAddress,
    }, child);

    this.serviceAccount = new gcp.serviceaccount.Account(`${name}-sa`, {
      project: args.project, accountId: `${args.name}-host`.slice(0, 30), displayName: 'ztmysql database host (logs and metrics only)',
    }, child);
    const roleGrants = HOST_ROLES.map((role) => new gcp.projects.IAMMember(`${name}-${role.split('/')[1]}`, {
      project: args.project, role, member: this.serviceAccount.member,
    }, child));

    this.startupScript = renderStartupScript();
    const confidential = args.confidentialCompute === true;
    this.instance = new gcp.compute.Instance(`${name}-vm`, {
      project: args.project, zone: args.zone, name: `${args.name}-db`,
      machineType: args.machineType ?? 'n2d-standard-2',
      tags: [NETWORK_TAG],
      labels: args.labels,
      bootDisk: {
        autoDelete: true,
        kmsKeySelfLink: args.diskKmsKeyName,
        initializeParams: { image: args.image ?? UBUNTU_IMAGE, size: args.bootDiskGb ?? 50, type: 'pd-balanced' },
      },
      networkInterfaces: [{
        subnetwork: this.subnet.id,
        networkIp: this.address.address,
        accessConfigs: args.allowExternalIp === true ? [{ networkTier: 'PREMIUM' }] : [],
      }],
      serviceAccount: { email: this.serviceAccount.email, scopes: ['cloud-platform'] },
      shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
      confidentialInstanceConfig: confidential ? { enableConfidentialCompute: true, confidentialInstanceType: 'SEV' } : undefined,
      scheduling: confidential ? { onHostMaintenance: 'TERMINATE', automaticRestart: true } : { onHostMaintenance: 'MIGRATE', automaticRestart: true },
      metadata: hardenedMetadata(this.startupScript),
      canIpForward: false,
      deletionProtection: args.deletionProtection === true,
      allowStoppingForUpdate: true,
    }, { ...child, dependsOn: [...roleGrants, ...(args.kmsReady ?? [])] });

    // OS Login: the deploy identity's key, and the right to log in with sudo on this VM only.
    const deployMember = pulumi.interpolate`serviceAccount:${args.deployServiceAccount}`;
    this.osLoginKey = new gcp.oslogin.SshPublicKey(`${name}-deploy-key`, {
      project: args.project, user: args.deployServiceAccount, key: args.deployPublicKey,
    }, child);
    const adminLogin = new gcp.compute.InstanceIAMMember(`${name}-deploy-login`, {
      project: args.project, zone: args.zone, instanceName: this.instance.name,
      role: 'roles/compute.osAdminLogin', member: deployMember,
    }, child);
    const actAs = new gcp.serviceaccount.IAMMember(`${name}-deploy-actas`, {
      serviceAccountId: this.serviceAccount.name, role: 'roles/iam.serviceAccountUser', member: deployMember,
    }, child);

    this.sshReady = [this.instance, this.osLoginKey, adminLogin, actAs, this.firewalls.ssh];
    this.privateIp = this.address.address;
    this.instanceName = this.instance.name;
    this.registerOutputs({ privateIp: this.privateIp, instanceName: this.instanceName });
  }
}
