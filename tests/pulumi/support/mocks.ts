// Pulumi runtime mocks for the stack tests. Every registration is recorded with its
// type, name, inputs (secrets kept visible as secret), parent URN and dependency URNs,
// so tests assert on what the program registered. The tls resources are emulated with
// openssl so that certificates carry the subjects and SANs the program asked for, and
// the host plan's own input validation (subjects, key/cert match, CRL) runs for real.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { generatePassword } from '../../../lab/secrets';

export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
export const SIG_KEY = '4dabf18193072939515e22adb298388d';
export const PROJECT_NUMBER = '123456789012';
export const FAKE_HOST_KEY = `ssh-ed25519 ${Buffer.alloc(51, 7).toString('base64').slice(0, 68)}`;

export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  parent?: string;
  deps: string[];
  urn: string;
}

export function isSecretValue(v: unknown): boolean {
  return !!v && typeof v === 'object' && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The value, with a secret wrapper removed. */
export function reveal<T = unknown>(v: unknown): T {
  return (isSecretValue(v) ? (v as { value: unknown }).value : v) as T;
}

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

type Subject = { organization?: string; commonName?: string };
const subj = (s: Subject): string => `/O=${s.organization}/CN=${s.commonName}`;

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ztmock-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fakeTls(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'tls:index/privateKey:PrivateKey': {
      if (inputs.algorithm === 'ED25519') {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
        const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), raw]);
        const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
        return { privateKeyPem: pem, privateKeyOpenssh: pem, publicKeyOpenssh: `ssh-ed25519 ${blob.toString('base64')}\n` };
      }
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: inputs.ecdsaCurve === 'P384' ? 'secp384r1' : 'prime256v1' });
      return {
        privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      };
    }
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return withTmp((d) => {
        writeFileSync(join(d, 'k'), reveal<string>(inputs.privateKeyPem));
        const days = String(Math.ceil(Number(inputs.validityPeriodHours) / 24));
        openssl(['req', '-x509', '-new', '-key', join(d, 'k'), '-subj', subj(inputs.subject as Subject), '-days', days, '-sha384',
          '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
          '-addext', 'subjectKeyIdentifier=hash', '-out', join(d, 'c')]);
        return { certPem: readFileSync(join(d, 'c'), 'utf8') };
      });
    case 'tls:index/certRequest:CertRequest':
      return withTmp((d) => {
        writeFileSync(join(d, 'k'), reveal<string>(inputs.privateKeyPem));
        const sans = [...((inputs.ipAddresses as string[]) ?? []).map((ip) => `IP:${ip}`), ...((inputs.dnsNames as string[]) ?? []).map((n) => `DNS:${n}`)];
        openssl(['req', '-new', '-key', join(d, 'k'), '-subj', subj(inputs.subject as Subject), ...(sans.length ? ['-addext', `subjectAltName=${sans.join(',')}`] : []), '-out', join(d, 'r')]);
        return { certRequestPem: readFileSync(join(d, 'r'), 'utf8') };
      });
    case 'tls:index/locallySignedCert:LocallySignedCert':
      return withTmp((d) => {
        writeFileSync(join(d, 'r'), String(inputs.certRequestPem));
        writeFileSync(join(d, 'ca'), String(inputs.caCertPem));
        writeFileSync(join(d, 'cak'), reveal<string>(inputs.caPrivateKeyPem));
        const uses = inputs.allowedUses as string[];
        writeFileSync(join(d, 'ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${uses.includes('server_auth') ? 'serverAuth' : 'clientAuth'}\n`);
        openssl(['x509', '-req', '-in', join(d, 'r'), '-CA', join(d, 'ca'), '-CAkey', join(d, 'cak'), '-set_serial', `0x${randomBytes(8).toString('hex')}`,
          '-days', String(Math.ceil(Number(inputs.validityPeriodHours) / 24)), '-sha384', '-copy_extensions', 'copy', '-extfile', join(d, 'ext'), '-out', join(d, 'c')]);
        return { certPem: readFileSync(join(d, 'c'), 'utf8') };
      });
  }
  return {};
}

export interface MockRun {
  readonly resources: Registered[];
  byType(type: string): Registered[];
  one(type: string, namePart?: string): Registered;
  /** Waits until no new registration arrived for a while. */
  settle(): Promise<void>;
}

export function installMocks(opts: { project?: string; stack?: string; preview?: boolean } = {}): MockRun {
  const resources: Registered[] = [];
  const pending = new Map<string, Registered>();
  pulumi.runtime.setMocks({
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
      const inputs = args.inputs as Record<string, unknown>;
      const rec = pending.get(`${args.type}::${args.name}`);
      if (rec) Object.assign(rec, { inputs });
      let id = `${args.name}-id`;
      const state: Record<string, unknown> = { ...inputs, ...fakeTls(args.type, inputs) };
      switch (args.type) {
        case 'gcp:kms/keyRing:KeyRing': id = `projects/${inputs.project}/locations/${inputs.location}/keyRings/${inputs.name}`; break;
        case 'gcp:kms/cryptoKey:CryptoKey': id = `${inputs.keyRing}/cryptoKeys/${inputs.name}`; break;
        case 'gcp:logging/projectSink:ProjectSink': state.writerIdentity = 'serviceAccount:service-123@gcp-sa-logging.iam.gserviceaccount.com'; break;
        case 'gcp:serviceaccount/account:Account':
          state.email = `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`;
          state.member = `serviceAccount:${state.email}`;
          state.name = `projects/${inputs.project}/serviceAccounts/${state.email}`;
          break;
        case 'gcp:compute/instance:Instance': state.instanceId = '4242424242'; break;
        case 'command:local:Command': state.stdout = FAKE_HOST_KEY.split(' ')[1]; break;
        case 'random:index/randomPassword:RandomPassword': state.result = generatePassword(Number(inputs.length)); break;
      }
      return { id, state };
    },
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
      if (args.token === 'gcp:organizations/getProject:getProject') return { number: PROJECT_NUMBER, projectId: args.inputs.projectId };
      return args.inputs;
    },
  }, opts.project ?? 'ztmysql', opts.stack ?? 'prod', opts.preview ?? false);

  // Record parent and dependencies from the registration request itself.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterReq, cb: unknown): unknown;
  };
  interface RegisterReq { getType(): string; getName(): string; getParent(): string; getDependenciesList(): string[] }
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterReq, cb: unknown) => {
    const rec: Registered = { type: req.getType(), name: req.getName(), inputs: {}, parent: req.getParent() || undefined, deps: req.getDependenciesList(), urn: '' };
    rec.urn = `${rec.parent ?? ''}>${rec.type}::${rec.name}`;
    resources.push(rec);
    pending.set(`${rec.type}::${rec.name}`, rec);
    return original(req, cb);
  };

  return {
    resources,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, namePart) {
      const found = resources.filter((r) => r.type === type && (namePart === undefined || r.name.includes(namePart)));
      if (found.length !== 1) throw new Error(`expected one ${type}${namePart ? ` named *${namePart}*` : ''}, found ${found.length}: ${found.map((r) => r.name).join(', ')}`);
      return found[0];
    },
    async settle() {
      let last = -1;
      let stable = 0;
      while (stable < 5) {
        await new Promise((r) => setTimeout(r, 40));
        if (resources.length === last) stable++;
        else {
          stable = 0;
          last = resources.length;
        }
      }
    },
  };
}

/** The URN-suffix form Registered.parent/deps use: "...::<type>::<name>" ends with this. */
export function urnEnds(urn: string | undefined, type: string, name: string): boolean {
  return !!urn && urn.endsWith(`${type}::${name}`);
}

export function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => { resolve(v); return v; }));
}

export async function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}
