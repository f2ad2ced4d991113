// lab up / down / status: a real systemd host running Oracle MySQL, in its own
// network namespace, provisioned over SSH by the same plan the Pulumi stack sends.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPlan, HostPlan } from '../provisioning/plan';
import { PrincipalSpec, ProvisioningSettings } from '../provisioning/settings';
import { PKI_INPUTS } from '../provisioning/steps/pki';
import { passwordInput } from '../provisioning/steps/accounts';
import { DeploymentOutputs } from '../client/deploymentOutputs';
import { ensureHostPackages, requireRoot } from './hostDeps';
import { ensureRootfs, LAB_DEPLOY_USER } from './rootfs';
import { labInstance, LabInstance } from './instance';
import { createNetwork, netnsExists, removeNetwork } from './netns';
import { boot, containerPaths, makeNetSysctlsWritable, isMounted, mountOverlay, mountsUnder, nspawnPid, personalise, stopContainer, unmountOverlay } from './container';
import { ensureLabPki, LabPki } from './pki';
import { ensureDeployKey, ensurePasswords } from './secrets';
import { SshSession, SshTarget } from '../audit/ssh';
import { applyPlan, StepOutcome } from './runner';
import { log, sleep } from './exec';
import { anchorsDir, collectorPid, COLLECTOR_PORT, startCollector, stopCollector } from './collectorProcess';
import { ensureLabHsm, labKmsOutputs } from './hsm';

export const LAB_PRINCIPALS: readonly PrincipalSpec[] = [
  { name: 'owner', role: 'owner' },
  { name: 'app', role: 'app' },
  { name: 'auditor', role: 'auditor' },
];

export function labSettings(inst: LabInstance): ProvisioningSettings {
  return {
    hostAddress: inst.guestAddress,
    serverName: inst.serverName,
    deployUser: LAB_DEPLOY_USER,
    deployRanges: [`${inst.hostAddress}/32`],
    clientRanges: [`${inst.hostAddress}/32`],
    principals: LAB_PRINCIPALS,
    organization: 'ztmysql',
    deploymentName: `lab-${inst.name}`,
    anchorForward: { host: inst.hostAddress, port: COLLECTOR_PORT },
  };
}

export function labPlan(inst: LabInstance): HostPlan {
  return renderPlan(labSettings(inst));
}

/** The apply-time inputs of the plan, from the lab's PKI and passwords. */
export function labInputs(pki: LabPki, passwords: Readonly<Record<string, string>>): Record<string, string> {
  const inputs: Record<string, string> = {
    [PKI_INPUTS.caCert]: pki.caCertPem,
    [PKI_INPUTS.serverCert]: pki.server.certPem,
    [PKI_INPUTS.serverKey]: pki.server.keyPem,
    [PKI_INPUTS.crl]: pki.crlPem,
  };
  for (const [name, pw] of Object.entries(passwords)) inputs[passwordInput(name)] = pw;
  return inputs;
}

export interface LabContext {
  readonly inst: LabInstance;
  readonly target: SshTarget;
  readonly pki: LabPki;
  readonly passwords: Readonly<Record<string, string>>;
  readonly outputsPath: string;
}

function sshTarget(inst: LabInstance): SshTarget {
  const hostKeyFile = join(containerPaths(inst).root, 'etc/ssh/ssh_host_ed25519_key.pub');
  return {
    host: inst.guestAddress, port: 22, user: LAB_DEPLOY_USER,
    privateKeyPath: join(inst.dir, 'ssh', 'id_ed25519'),
    hostKey: existsSync(hostKeyFile) ? readFileSync(hostKeyFile, 'utf8').trim() : '',
  };
}

/** Loads the context of an instance that is up (PKI, passwords, SSH target). */
export function labContext(name = 'main'): LabContext {
  const inst = labInstance(name);
  const pki = ensureLabPki(pkiSpec(inst));
  const passwords = ensurePasswords(join(inst.dir, 'secrets'), LAB_PRINCIPALS.map((p) => p.name));
  return { inst, target: sshTarget(inst), pki, passwords, outputsPath: join(inst.dir, 'outputs.json') };
}

function pkiSpec(inst: LabInstance) {
  const s = labSettings(inst);
  return {
    dir: join(inst.dir, 'pki'), organization: s.organization ?? 'ztmysql', deploymentName: s.deploymentName,
    serverName: inst.serverName, serverAddress: inst.guestAddress,
    principals: LAB_PRINCIPALS.map((p) => p.name), revokedProbeFor: 'app',
  };
}

async function waitForSsh(target: SshTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const s = await SshSession.connect(target, 5000);
      const r = await s.exec('systemctl is-system-running --wait >/dev/null 2>&1; true');
      s.close();
      if (r.code === 0) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(1000);
  }
  throw new Error(`the test host did not accept SSH within ${timeoutMs / 1000}s (${last}); see ${target.host} console log`);
}

export interface UpOptions {
  readonly provision?: boolean;
  readonly quiet?: boolean;
}

export interface UpResult {
  readonly ctx: LabContext;
  readonly outcomes: readonly StepOutcome[];
}

export async function labUp(name = 'main', opts: UpOptions = {}): Promise<UpResult> {
  requireRoot();
  const say = (m: string): void => { if (!opts.quiet) log(m); };
  const inst = labInstance(name);
  ensureHostPackages();
  const rootfs = ensureRootfs();
  mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
  const key = ensureDeployKey(join(inst.dir, 'ssh'));
  await claimInstance(inst);
  say(`lab ${name}: network namespace ${inst.netns}, host ${inst.guestAddress}`);
  createNetwork(inst);
  await startCollector(inst);
  mountOverlay(inst, rootfs);
  if (!nspawnPid(inst)) {
    personalise(inst, key.publicKey);
    say(`lab ${name}: booting ${inst.machine} with systemd-nspawn`);
    boot(inst);
  }
  const ctx = labContext(name);
  await waitForSsh(ctx.target, 120_000);
  makeNetSysctlsWritable(inst);
  say(`lab ${name}: SSH up (host key pinned)`);
  let outcomes: StepOutcome[] = [];
  ensureLabHsm(inst); // the lab's PKCS#11 KMS (SoftHSM2 token, host-side; kept by `lab down`)
  if (opts.provision !== false) {
    say(`lab ${name}: applying the provisioning plan`);
    outcomes = await applyPlan(labPlan(inst), labInputs(ctx.pki, ctx.passwords), ctx.target, { quiet: opts.quiet });
    writeOutputs(ctx);
  }
  return { ctx, outcomes };
}

export function writeOutputs(ctx: LabContext): DeploymentOutputs {
  const { inst, pki, passwords, target } = ctx;
  const s = labSettings(inst);
  const principals: Record<string, { user: string; certPem: string; keyPem: string; password: string }> = {};
  for (const p of LAB_PRINCIPALS) {
    principals[p.name] = { user: p.name, certPem: pki.principals[p.name].certPem, keyPem: pki.principals[p.name].keyPem, password: passwords[p.name] };
  }
  const outputs = {
    host: inst.guestAddress,
    port: s.mysqlPort ?? 3306,
    database: s.database ?? 'ztmysql',
    serverName: inst.serverName,
    caCertPem: pki.caCertPem,
    principals,
    kms: labKmsOutputs(inst),
    anchors: { source: `file://${anchorsDir(inst)}` },
    ssh: { host: target.host, port: target.port, user: target.user, privateKeyPath: target.privateKeyPath, hostKey: target.hostKey },
    // A certificate for app's subject that the CRL revokes: proves CRL enforcement.
    revokedProbe: pki.revokedProbe,
    lab: { name: inst.name, netns: inst.netns, clientAddress: inst.hostAddress },
  } as unknown as DeploymentOutputs;
  writeFileSync(ctx.outputsPath, JSON.stringify(outputs, null, 2) + '\n', { mode: 0o600 });
  return outputs;
}

// Network namespaces and addresses are machine-wide, instance directories are per
// checkout: a claim in /run records which checkout owns a running instance name.
const CLAIM_DIR = '/run/ztmysql';
const claimFile = (inst: LabInstance): string => join(CLAIM_DIR, `${inst.name}.owner`);

async function claimInstance(inst: LabInstance): Promise<void> {
  mkdirSync(CLAIM_DIR, { recursive: true, mode: 0o700 });
  const file = claimFile(inst);
  if (existsSync(file)) {
    const owner = readFileSync(file, 'utf8').trim();
    if (owner !== inst.dir && netnsExists(inst)) {
      const previous: LabInstance = { ...inst, dir: owner };
      if (strayNspawns(previous).length > 0) {
        throw new Error(`lab instance "${inst.name}" is already up from ${owner}; run "lab down --name ${inst.name}" there first, or pick another --name`);
      }
      // Its container is gone (a killed session): clear what it left behind, then take over.
      log(`lab ${inst.name}: clearing a stale instance left by ${owner}`);
      await stopCollector(previous);
      unmountOverlay(previous);
      removeNetwork(inst);
    }
  }
  writeFileSync(file, `${inst.dir}\n`);
}

function releaseInstance(inst: LabInstance): void {
  const file = claimFile(inst);
  if (existsSync(file) && readFileSync(file, 'utf8').trim() === inst.dir) rmSync(file, { force: true });
}

/** nspawn processes still running on this instance's tree (even if the pid file is lost). */
function strayNspawns(inst: LabInstance): number[] {
  const root = containerPaths(inst).root;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('systemd-nspawn') && argv.includes(root)) out.push(Number(entry));
    } catch { /* exited */ }
  }
  return out;
}

/** Removes the container, its mounts, its network and its disk. Safe to run at any time. */
export async function labDown(name = 'main', opts: { quiet?: boolean } = {}): Promise<void> {
  requireRoot();
  const inst = labInstance(name);
  const file = claimFile(inst);
  if (existsSync(file) && readFileSync(file, 'utf8').trim() !== inst.dir && netnsExists(inst)) {
    throw new Error(`lab instance "${inst.name}" belongs to ${readFileSync(file, 'utf8').trim()}; run "lab down" from there`);
  }
  await stopContainer(inst);
  await stopCollector(inst);
  for (const pid of strayNspawns(inst)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (strayNspawns(inst).length) await sleep(1000);
  unmountOverlay(inst);
  removeNetwork(inst);
  rmSync(containerPaths(inst).overlay, { recursive: true, force: true });
  rmSync(join(inst.dir, 'outputs.json'), { force: true });
  // The anchors belong to the database that was just destroyed.
  rmSync(anchorsDir(inst), { recursive: true, force: true });
  releaseInstance(inst);
  if (!opts.quiet) log(`lab ${name}: down (no container, mount or namespace left)`);
}

export interface LabStatus {
  readonly name: string;
  readonly netns: boolean;
  readonly nspawnPid?: number;
  readonly collectorPid?: number;
  readonly mounted: boolean;
  readonly mounts: readonly string[];
  readonly outputs?: string;
}

export function labStatus(name = 'main'): LabStatus {
  const inst = labInstance(name);
  const p = containerPaths(inst);
  const outputs = join(inst.dir, 'outputs.json');
  return {
    name, netns: netnsExists(inst), nspawnPid: nspawnPid(inst), collectorPid: collectorPid(inst), mounted: isMounted(p.root),
    mounts: mountsUnder(p.root), outputs: existsSync(outputs) ? outputs : undefined,
  };
}
