/* eslint-disable @typescript-eslint/no-explicit-any -- registered inputs are untyped JSON from the mock monitor */
// The prod stack: every security property asserted on the resources the program
// registers (type, inputs, parent, dependencies), with runtime mocks.
import { installMocks, MockRun, PROJECT_NUMBER, isSecretValue, reveal, urnEnds, promiseOf, isSecretOutput, FAKE_HOST_KEY } from './support/mocks';
import { PROD } from './support/configs';
import type { StackOutputs } from '../../components/stack';
import { renderPlan } from '../../provisioning/plan';
import { isSecretStep } from '../../provisioning/step';
import { provisioningSettings, validateStackConfig } from '../../components/config';

const plan = renderPlan(provisioningSettings(validateStackConfig(PROD)));

let run: MockRun;
let out: StackOutputs;

beforeAll(async () => {
  run = installMocks({ stack: 'prod', project: 'ztmysql' });
  const { deployStack } = await import('../../components/stack');
  out = deployStack(PROD, 'prod');
  await promiseOf(out.provisioned);
  await run.settle();
}, 60_000);

const inputs = (type: string, name?: string) => run.one(type, name).inputs as Record<string, any>;

describe('prod: KMS', () => {
  test('both symmetric keys are HSM-protected GOOGLE_SYMMETRIC_ENCRYPTION with a 90-day rotation, parented by the Kms component', () => {
    const keys = run.byType('gcp:kms/cryptoKey:CryptoKey');
    expect(keys.map((k) => k.inputs.name).sort()).toEqual(['ztmysql-data', 'ztmysql-infra']);
    for (const k of keys) {
      expect(k.inputs.purpose).toBe('ENCRYPT_DECRYPT');
      expect(k.inputs.versionTemplate).toEqual({ algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', protectionLevel: 'HSM' });
      expect(k.inputs.rotationPeriod).toBe('7776000s');
      expect(urnEnds(k.parent, 'ztmysql:kms:Kms', 'kms')).toBe(true);
      expect(k.deps.some((d) => d.endsWith('gcp:kms/keyRing:KeyRing::kms-ring'))).toBe(true);
    }
    expect(run.byType('gcp:kms/cryptoKey:CryptoKey').some((k) => k.inputs.purpose === 'KEY_ENCAPSULATION')).toBe(false);
  });

  test('the data key is usable only by the app identities; the infra key only by the Compute and Storage service agents', () => {
    const bindings = run.byType('gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding');
    expect(bindings).toHaveLength(2);
    const data = bindings.find((b) => String(b.inputs.cryptoKeyId).endsWith('/cryptoKeys/ztmysql-data'))!;
    const infra = bindings.find((b) => String(b.inputs.cryptoKeyId).endsWith('/cryptoKeys/ztmysql-infra'))!;
    expect(data.inputs.role).toBe('roles/cloudkms.cryptoKeyEncrypterDecrypter');
    expect(data.inputs.members).toEqual(['serviceAccount:orders-api@acme-apps.iam.gserviceaccount.com']);
    expect(infra.inputs.members).toEqual([
      `serviceAccount:service-${PROJECT_NUMBER}@compute-system.iam.gserviceaccount.com`,
      `serviceAccount:service-${PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com`,
    ]);
    expect(run.byType('gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember')).toHaveLength(0);
  });
});

describe('prod: WORM archive', () => {
  test('bucket: uniform access, public access prevention enforced, versioning, locked 400-day retention, CMEK with the infra key', () => {
    const b = inputs('gcp:storage/bucket:Bucket');
    expect(b.uniformBucketLevelAccess).toBe(true);
    expect(b.publicAccessPrevention).toBe('enforced');
    expect(b.versioning).toEqual({ enabled: true });
    expect(b.retentionPolicy).toEqual({ retentionPeriod: String(400 * 86400), isLocked: true });
    expect(b.forceDestroy).toBe(false);
    expect(b.encryption.defaultKmsKeyName).toMatch(/\/cryptoKeys\/ztmysql-infra$/);
    // Created only after the Kms component (its IAM bindings) exists.
    expect(run.one('gcp:storage/bucket:Bucket').deps.some((d) => d.endsWith('gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding::kms-infra-users'))).toBe(true);
  });

  test('sink: exact anchor filter, unique writer identity, into the bucket; writer may only create objects in that bucket', () => {
    const s = inputs('gcp:logging/projectSink:ProjectSink');
    expect(s.filter).toBe('logName="projects/acme-ztmysql-prod/logs/ztmysql-anchor" AND jsonPayload.ztmysql_anchor_version:*');
    expect(s.uniqueWriterIdentity).toBe(true);
    expect(s.destination).toBe(`storage.googleapis.com/${inputs('gcp:storage/bucket:Bucket').name}`);
    expect(s.exclusions).toBeUndefined();
    const grants = run.byType('gcp:storage/bucketIAMMember:BucketIAMMember');
    expect(grants).toHaveLength(1);
    expect(grants[0].inputs).toMatchObject({ role: 'roles/storage.objectCreator', member: 'serviceAccount:service-123@gcp-sa-logging.iam.gserviceaccount.com', bucket: inputs('gcp:storage/bucket:Bucket').name });
    expect(run.byType('gcp:storage/bucketIAMBinding:BucketIAMBinding')).toHaveLength(0);
  });
});

describe('prod: network and VM', () => {
  test('VPC without auto subnets; subnet with Private Google Access', () => {
    expect(inputs('gcp:compute/network:Network').autoCreateSubnetworks).toBe(false);
    const sn = inputs('gcp:compute/subnetwork:Subnetwork');
    expect(sn.privateIpGoogleAccess).toBe(true);
    expect(sn.ipCidrRange).toBe('10.20.0.0/24');
  });

  test('firewall: 3306 only from client ranges, 22 only from deploy ranges, logged deny-all at the lowest priority', () => {
    const fws = run.byType('gcp:compute/firewall:Firewall').map((f) => f.inputs as Record<string, any>);
    const allowing = (port: string) => fws.filter((f) => (f.allows ?? []).some((a: any) => (a.ports ?? []).includes(port)));
    expect(allowing('3306')).toHaveLength(1);
    expect(allowing('3306')[0].sourceRanges).toEqual(['10.30.0.0/16']);
    expect(allowing('22')).toHaveLength(1);
    expect(allowing('22')[0].sourceRanges).toEqual(['10.40.0.0/28']);
    const deny = fws.filter((f) => f.denies);
    expect(deny).toHaveLength(1);
    expect(deny[0]).toMatchObject({ priority: 65535, direction: 'INGRESS', denies: [{ protocol: 'all' }], sourceRanges: ['0.0.0.0/0'], logConfig: { metadata: 'INCLUDE_ALL_METADATA' } });
    for (const f of fws.filter((x) => x.allows)) expect(f.sourceRanges).not.toContain('0.0.0.0/0');
  });

  test('static internal address is the configured host address', () => {
    expect(inputs('gcp:compute/address:Address')).toMatchObject({ addressType: 'INTERNAL', address: '10.20.0.10' });
  });

  test('host service account holds only logWriter and metricWriter', () => {
    const sa = inputs('gcp:serviceaccount/account:Account');
    const roles = run.byType('gcp:projects/iAMMember:IAMMember').filter((m) => m.inputs.member === `serviceAccount:${sa.accountId}@${sa.project}.iam.gserviceaccount.com`).map((m) => m.inputs.role).sort();
    expect(roles).toEqual(['roles/logging.logWriter', 'roles/monitoring.metricWriter']);
    expect(run.byType('gcp:projects/iAMMember:IAMMember')).toHaveLength(2);
  });

  test('VM: Shielded + Confidential, OS Login, no project keys, no serial port, no external IP, CMEK boot disk, Ubuntu 24.04, deletion protection', () => {
    const vm = inputs('gcp:compute/instance:Instance');
    expect(vm.shieldedInstanceConfig).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    expect(vm.confidentialInstanceConfig).toMatchObject({ enableConfidentialCompute: true });
    expect(vm.metadata).toMatchObject({ 'enable-oslogin': 'TRUE', 'block-project-ssh-keys': 'TRUE', 'serial-port-enable': 'FALSE' });
    expect(vm.metadata['ssh-keys']).toBeUndefined();
    expect(vm.networkInterfaces).toHaveLength(1);
    expect(vm.networkInterfaces[0].accessConfigs ?? []).toEqual([]);
    expect(vm.networkInterfaces[0].networkIp).toBe('10.20.0.10');
    expect(vm.bootDisk.kmsKeySelfLink).toMatch(/\/cryptoKeys\/ztmysql-infra$/);
    expect(vm.bootDisk.initializeParams.image).toBe('ubuntu-os-cloud/ubuntu-2404-lts-amd64');
    expect(vm.deletionProtection).toBe(true);
    expect(vm.canIpForward).toBe(false);
    expect(vm.serviceAccount.email).toMatch(/-host@acme-ztmysql-prod\.iam\.gserviceaccount\.com$/);
    // The VM is created only after the Compute agent may use the disk key.
    expect(run.one('gcp:compute/instance:Instance').deps.some((d) => d.endsWith('gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding::kms-infra-users'))).toBe(true);
  });

  test('the boot script pins the Oracle MySQL signing key and installs 8.4 LTS (Ubuntu ships 8.0)', () => {
    const script = inputs('gcp:compute/instance:Instance').metadata['startup-script'] as string;
    expect(script).toContain('BCA43417C3B485DD128EC6D4B7B3B788A8D3785C');
    expect(script).toContain('noble mysql-8.4-lts');
    expect(script).toContain('google-cloud-ops-agent');
    // Configuration the plan owns (rsyslog rule, Ops Agent receiver) is not written at boot.
    expect(script).not.toContain('/etc/rsyslog.d/');
    expect(script).not.toContain('/etc/google-cloud-ops-agent/config.yaml');
  });

  test('OS Login: the deploy key registered for the deploy service account, osAdminLogin on this VM only', async () => {
    const key = inputs('gcp:oslogin/sshPublicKey:SshPublicKey');
    expect(key.user).toBe('ztmysql-deploy@acme-ztmysql-prod.iam.gserviceaccount.com');
    expect(key.key).toMatch(/^ssh-ed25519 /);
    const login = inputs('gcp:compute/instanceIAMMember:InstanceIAMMember');
    expect(login).toMatchObject({ role: 'roles/compute.osAdminLogin', member: 'serviceAccount:ztmysql-deploy@acme-ztmysql-prod.iam.gserviceaccount.com' });
  });
});

describe('prod: PKI', () => {
  test('ECDSA P-384 keys; CA signs certs and CRLs only; server cert for the host IP and DNS name; one client cert per principal', () => {
    const keys = run.byType('tls:index/privateKey:PrivateKey').filter((k) => k.inputs.algorithm === 'ECDSA');
    expect(keys).toHaveLength(5); // CA, server, 3 clients
    for (const k of keys) expect(k.inputs.ecdsaCurve).toBe('P384');
    const ca = inputs('tls:index/selfSignedCert:SelfSignedCert');
    expect(ca).toMatchObject({ isCaCertificate: true, allowedUses: ['cert_signing', 'crl_signing'], subject: { organization: 'Acme', commonName: 'prod ztmysql CA' } });
    const csrs = run.byType('tls:index/certRequest:CertRequest').map((c) => c.inputs as Record<string, any>);
    const server = csrs.find((c) => c.subject.commonName === 'db.prod.acme.internal')!;
    expect(server.ipAddresses).toEqual(['10.20.0.10']);
    expect(server.dnsNames).toEqual(['db.prod.acme.internal']);
    expect(csrs.map((c) => c.subject.commonName).sort()).toEqual(['app', 'auditor', 'db.prod.acme.internal', 'owner']);
    const certs = run.byType('tls:index/locallySignedCert:LocallySignedCert');
    expect(certs.filter((c) => (c.inputs.allowedUses as string[]).includes('server_auth'))).toHaveLength(1);
    expect(certs.filter((c) => (c.inputs.allowedUses as string[]).includes('client_auth'))).toHaveLength(3);
    for (const c of certs) {
      expect(c.inputs.allowedUses).not.toContain('cert_signing');
      expect(isSecretValue(c.inputs.caPrivateKeyPem)).toBe(true);
    }
  });
});

describe('prod: host provisioning', () => {
  const steps = () => run.byType('command:remote:Command').filter((c) => !c.name.endsWith('-preflight'));

  test('one command per plan step in plan order, each depending on the previous; the first waits for the boot script and SSH access', () => {
    const ids = steps().map((s) => s.name.replace(/^provision-/, ''));
    expect(ids).toEqual(plan.steps.map((st) => st.id));
    expect(ids.slice(0, 5)).toEqual(['packages', 'host-hardening', 'pki', 'mysql-config', 'accounts']);
    const all = run.byType('command:remote:Command');
    expect(all[0].name).toBe('provision-preflight');
    expect(all[0].deps.some((d) => d.endsWith('gcp:compute/instance:Instance::db-vm'))).toBe(true);
    expect(all[0].deps.some((d) => d.endsWith('gcp:oslogin/sshPublicKey:SshPublicKey::db-deploy-key'))).toBe(true);
    for (let i = 1; i < all.length; i++) {
      expect(all[i].deps.some((d) => d.endsWith(`command:remote:Command::${all[i - 1].name}`))).toBe(true);
      expect(urnEnds(all[i].parent, 'ztmysql:hostProvisioning:HostProvisioning', 'provision')).toBe(true);
    }
  });

  test('connection: host key pinned (from guest attributes), secret private key, bounded dialing, the OS Login user', () => {
    for (const s of run.byType('command:remote:Command')) {
      const c = s.inputs.connection as Record<string, unknown>;
      expect(reveal(c)).toMatchObject({ host: '10.20.0.10', port: 22, user: 'sa_104857600123456789012', hostKey: FAKE_HOST_KEY, dialErrorLimit: 30, perDialTimeout: 20 });
      expect(isSecretValue(c) || isSecretValue((c as any).privateKey)).toBe(true);
    }
  });

  test('secret steps (pki, accounts, ...) log nothing and carry secret stdin and triggers; the others log and are plain', () => {
    const secretIds = plan.steps.filter(isSecretStep).map((st) => st.id);
    expect(secretIds).toEqual(expect.arrayContaining(['pki', 'accounts']));
    expect(secretIds).not.toContain('packages');
    for (const s of steps()) {
      const secret = secretIds.includes(s.name.replace(/^provision-/, ''));
      expect(s.inputs.logging).toBe(secret ? 'none' : 'stdoutAndStderr');
      expect(isSecretValue(s.inputs.stdin)).toBe(secret);
      expect(isSecretValue(s.inputs.triggers)).toBe(secret);
      expect(s.inputs.addPreviousOutputInEnv).toBe(false);
      expect(typeof s.inputs.create).toBe('string');
    }
  });

  test('passwords come from RandomPassword in the plan alphabet (32 chars, every class) and never appear in a command string', async () => {
    const pws = run.byType('random:index/randomPassword:RandomPassword');
    expect(pws).toHaveLength(3);
    for (const p of pws) expect(p.inputs).toMatchObject({ length: 32, special: true, overrideSpecial: '!#%+,.:=?@^_~-', minUpper: 2, minLower: 2, minNumeric: 2, minSpecial: 2 });
    const secrets = [
      ...(await Promise.all(Object.values(out.principals).map((p) => promiseOf(p.password)))),
      ...(await Promise.all(Object.values(out.principals).map((p) => promiseOf(p.keyPem)))),
      await promiseOf(out.sshPrivateKey),
    ];
    const accounts = steps().find((s) => s.name.endsWith('-accounts'))!;
    const stdin = reveal<string>(accounts.inputs.stdin);
    expect(stdin).toContain(Buffer.from(await promiseOf(out.principals.app.password)).toString('base64'));
    for (const s of run.byType('command:remote:Command')) {
      for (const secret of secrets) {
        expect(s.inputs.create).not.toContain(secret);
        expect(JSON.stringify(s.inputs.triggers)).not.toContain(secret);
      }
    }
  });
});

describe('prod: outputs', () => {
  test('DESIGN.md shape; key material and passwords secret, certificates and names plain', async () => {
    expect(await promiseOf(out.host)).toBe('10.20.0.10');
    expect(out.port).toBe(3306);
    expect(out.database).toBe('ztmysql');
    expect(out.serverName).toBe('db.prod.acme.internal');
    expect(await promiseOf(out.caCertPem)).toContain('BEGIN CERTIFICATE');
    expect(Object.keys(out.principals).sort()).toEqual(['app', 'auditor', 'owner']);
    for (const p of Object.values(out.principals)) {
      expect(await isSecretOutput(p.keyPem)).toBe(true);
      expect(await isSecretOutput(p.password)).toBe(true);
      expect(await isSecretOutput(p.certPem)).toBe(false);
    }
    expect(await isSecretOutput(out.sshPrivateKey)).toBe(true);
    expect(await isSecretOutput(out.caCertPem)).toBe(false);
    expect(await isSecretOutput(out.crlPem)).toBe(false);
    expect(out.kms.provider).toBe('gcp');
    expect(await promiseOf(out.kms.keyName)).toBe('projects/acme-ztmysql-prod/locations/europe-west4/keyRings/zt-prod-prod/cryptoKeys/ztmysql-data');
    expect(await promiseOf(out.anchors.source)).toBe('gs://acme-ztmysql-prod-zt-prod-anchors/ztmysql-anchor');
    expect(out.ssh).toMatchObject({ port: 22, user: 'sa_104857600123456789012' });
  });
});
