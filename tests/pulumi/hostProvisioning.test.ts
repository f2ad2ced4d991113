// HostProvisioning sends byte-for-byte what the lab runner sends: for the lab's own
// settings and inputs (its openssl PKI and generated passwords), each registered
// remote.Command's create string and stdin equal renderCommand(step) and
// renderStdin(step, inputs) over labPlan(), which is what lab/runner.ts applyPlan()
// executes over SSH.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { installMocks, MockRun, reveal, isSecretValue, FAKE_HOST_KEY } from './support/mocks';
import { labInputs, labPlan, labSettings, LAB_PRINCIPALS } from '../../lab/lab';
import { labInstance } from '../../lab/instance';
import { ensureLabPki, LabPki } from '../../lab/pki';
import { generatePassword } from '../../lab/secrets';
import { renderCommand, renderStdin, stepFingerprint, validateStepInputs } from '../../provisioning/step';
import { renderPlanCommands } from '../../lab/runner';
import { PKI_INPUTS } from '../../provisioning/steps/pki';
import { buildCrlPem } from '../../components/crl';
import { remoteCommandsFor } from '../../components/hostProvisioning';

let run: MockRun;
let dir: string;
let pki: LabPki;
let inputs: Record<string, string>;
const inst = labInstance('main');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ztmysql-hp-'));
  const s = labSettings(inst);
  pki = ensureLabPki({
    dir, organization: s.organization ?? 'ztmysql', deploymentName: s.deploymentName, serverName: inst.serverName,
    serverAddress: inst.guestAddress, principals: LAB_PRINCIPALS.map((p) => p.name), revokedProbeFor: 'app',
  });
  inputs = labInputs(pki, Object.fromEntries(LAB_PRINCIPALS.map((p) => [p.name, generatePassword()])));
  run = installMocks({ stack: 'lab' });
  const { HostProvisioning } = await import('../../components/hostProvisioning');
  new HostProvisioning('lab', {
    settings: s,
    connection: { host: inst.guestAddress, user: s.deployUser, privateKey: 'not-a-real-key', hostKey: FAKE_HOST_KEY },
    inputs,
  });
  await run.settle();
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('each command sent by the component is byte-for-byte the lab runner\'s command and stdin, in plan order', () => {
  const plan = labPlan(inst);
  // What the lab runner sends over SSH, from the runner's own rendering function.
  const wire = renderPlanCommands(plan, inputs);
  const commands = run.byType('command:remote:Command');
  expect(commands.map((c) => c.name)).toEqual(plan.steps.map((s) => `lab-${s.id}`));
  wire.forEach(({ step, command, stdin }, i) => {
    const sent = commands[i].inputs;
    expect(Buffer.from(sent.create as string).equals(Buffer.from(command))).toBe(true);
    expect(Buffer.from(reveal<string>(sent.stdin)).equals(Buffer.from(stdin))).toBe(true);
    expect(reveal<string[]>(sent.triggers)).toEqual([stepFingerprint(step, inputs)]);
  });
  // And the pure rendering used for review equals both.
  expect(remoteCommandsFor(labSettings(inst), inputs).map((r) => [r.create, r.stdin])).toEqual(plan.steps.map((s) => [renderCommand(s), renderStdin(s, inputs)]));
});

test('no secret input value appears in any command string; secret ones travel only on secret stdin', () => {
  const secretValues = [inputs[PKI_INPUTS.serverKey], ...LAB_PRINCIPALS.map((p) => inputs[`password.${p.name}`])];
  for (const c of run.byType('command:remote:Command')) {
    for (const v of secretValues) expect(c.inputs.create).not.toContain(v);
    if (String(reveal(c.inputs.stdin)).includes(Buffer.from(inputs[PKI_INPUTS.serverKey]).toString('base64'))) expect(isSecretValue(c.inputs.stdin)).toBe(true);
  }
});

test('a trigger changes exactly when its step\'s content changes (a new CRL re-runs only the pki step)', () => {
  const plan = labPlan(inst);
  const crl = buildCrlPem({ caCertPem: pki.caCertPem, caKeyPem: readFileSync(pki.caKeyPath, 'utf8'), revoked: [{ serial: '0x1234', revokedAt: new Date() }] });
  const changed = { ...inputs, [PKI_INPUTS.crl]: crl };
  const before = remoteCommandsFor(labSettings(inst), inputs);
  const after = remoteCommandsFor(labSettings(inst), changed);
  expect(plan.steps.filter((_s, i) => before[i].fingerprint !== after[i].fingerprint).map((s) => s.id)).toEqual(['pki']);
});

test('the CRL the Pki component signs passes the plan\'s input checks and the host-side openssl check of the pki step', () => {
  const crl = buildCrlPem({ caCertPem: pki.caCertPem, caKeyPem: readFileSync(pki.caKeyPath, 'utf8') });
  const step = labPlan(inst).steps.find((s) => s.id === 'pki')!;
  expect(() => validateStepInputs(step, { ...inputs, [PKI_INPUTS.crl]: crl })).not.toThrow();
  writeFileSync(join(dir, 'zt-crl.pem'), crl);
  writeFileSync(join(dir, 'zt-server.pem'), pki.server.certPem);
  // The exact verification the pki step runs on the host.
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CAfile', pki.caCertPath, '-CRLfile', join(dir, 'zt-crl.pem'), join(dir, 'zt-server.pem')], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
