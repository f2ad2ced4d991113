// The rendered plan: deterministic commands that carry no secret, payloads that
// carry the data, inputs validated (without echoing values) before anything is sent.
import { spawnSync } from 'node:child_process';
import { renderPlan, validatePlanInputs, planInputs } from '../../../provisioning/plan';
import { InputError, isSecretStep, renderCommand, renderScript, renderStdin, stepFingerprint } from '../../../provisioning/step';
import { PKI_INPUTS } from '../../../provisioning/steps/pki';
import { makePki, PkiFixture, SETTINGS, PASSWORDS } from './fixtures';

let fx: PkiFixture;
beforeAll(() => { fx = makePki(); });
afterAll(() => fx.cleanup());

describe('plan rendering', () => {
  test('rendering is deterministic', () => {
    const a = renderPlan(SETTINGS).steps.map(renderCommand);
    const b = renderPlan(SETTINGS).steps.map(renderCommand);
    expect(a).toEqual(b);
  });

  test('every script is valid bash', () => {
    for (const step of renderPlan(SETTINGS).steps) {
      const r = spawnSync('bash', ['-n'], { input: renderScript(step), encoding: 'utf8' });
      expect(`${step.id}: ${r.stderr}`).toBe(`${step.id}: `);
    }
  });

  test('commands carry no secret; the secrets travel only on stdin of secret steps', () => {
    const plan = renderPlan(SETTINGS);
    const secrets = [fx.pki.server.keyPem, ...Object.values(PASSWORDS)];
    for (const step of plan.steps) {
      const command = renderCommand(step);
      for (const secret of secrets) {
        expect(command).not.toContain(secret);
        expect(command).not.toContain(Buffer.from(secret).toString('base64'));
      }
    }
    expect(plan.steps.filter(isSecretStep).map((s) => s.id)).toEqual(['pki', 'accounts']);
    const accounts = plan.steps.find((s) => s.id === 'accounts')!;
    const stdin = renderStdin(accounts, fx.inputs);
    expect(stdin).toContain(Buffer.from(PASSWORDS.app).toString('base64'));
    expect([...planInputs(plan).entries()].filter(([, secret]) => secret).map(([n]) => n).sort())
      .toEqual(['password.app', 'password.auditor', 'password.owner', 'pki.serverKey']);
  });

  test('accounts are bound to the certificate subject and issuer for every client range', () => {
    const accounts = renderPlan(SETTINGS).steps.find((s) => s.id === 'accounts')!;
    const sql = accounts.inline.find((p) => p.key === 'accounts.sql')!.content;
    for (const host of ['198.18.77.0/28', '198.18.78.0/24']) {
      expect(sql).toContain(`CREATE USER IF NOT EXISTS 'app'@'${host}' IDENTIFIED WITH caching_sha2_password BY '@@PASSWORD_app@@' REQUIRE SUBJECT '/O=ztmysql/CN=app' AND ISSUER '/O=ztmysql/CN=unit ztmysql CA'`);
    }
    expect(sql).not.toMatch(/GRANT .* TO 'app'/);
    expect(sql).toMatch(/GRANT ALL PRIVILEGES ON `ztmysql`\.\* TO 'owner'@'198\.18\.77\.0\/28';/);
  });

  test('the fingerprint changes with a secret input but does not reveal it', () => {
    const accounts = renderPlan(SETTINGS).steps.find((s) => s.id === 'accounts')!;
    const a = stepFingerprint(accounts, fx.inputs);
    const b = stepFingerprint(accounts, { ...fx.inputs, 'password.app': 'Another-Pass-0123456789' });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
});

describe('input validation', () => {
  const plan = () => renderPlan(SETTINGS);
  const problem = (patch: Record<string, string | undefined>): string => {
    try {
      validatePlanInputs(plan(), { ...fx.inputs, ...patch });
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return (e as Error).message;
    }
    throw new Error('inputs were accepted');
  };

  test('the fixture inputs are valid', () => {
    expect(() => validatePlanInputs(plan(), fx.inputs)).not.toThrow();
  });

  test('a missing certificate is refused', () => {
    expect(problem({ [PKI_INPUTS.caCert]: undefined })).toMatch(/pki\.caCert: missing/);
    expect(problem({ [PKI_INPUTS.crl]: '' })).toMatch(/pki\.crl: missing/);
  });

  test('a certificate with the wrong subject is refused', () => {
    expect(problem({ [PKI_INPUTS.serverCert]: fx.pki.principals.app.certPem })).toMatch(/pki\.serverCert: certificate subject is "O=ztmysql\\nCN=app", expected "O=ztmysql\\nCN=db\.example\.test"/);
  });

  test('garbage in place of a certificate or CRL is refused', () => {
    expect(problem({ [PKI_INPUTS.caCert]: 'not a cert' })).toMatch(/pki\.caCert: not a PEM certificate/);
    expect(problem({ [PKI_INPUTS.caCert]: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })).toMatch(/does not parse/);
    expect(problem({ [PKI_INPUTS.crl]: fx.pki.caCertPem })).toMatch(/pki\.crl: not a PEM CRL/);
  });

  test('a server key that does not match the certificate is refused, without echoing the key', () => {
    const wrong = fx.pki.principals.app.keyPem;
    const message = problem({ [PKI_INPUTS.serverKey]: wrong });
    expect(message).toMatch(/pki\.serverKey: private key does not match pki\.serverCert/);
    expect(message).not.toContain(wrong.split('\n')[1]);
  });

  test.each([
    ['short', /14-128 characters/],
    ["Has'Quote-0123456789", /14-128 characters/],
    ['alllowercase-0123456789', /upper and lower case/],
    ['NoDigitsHere-abcdefghij', /upper and lower case letters, a digit/],
  ])('password %p is refused without being echoed', (pw, message) => {
    const m = problem({ 'password.app': pw });
    expect(m).toMatch(message);
    expect(m).not.toContain(pw);
  });
});

describe('the step prelude', () => {
  // Runs a rendered script locally (without sudo) in a scratch directory.
  function runScript(script: string, stdin: string, dir: string) {
    return spawnSync('bash', ['-c', script.replace(/\/var\/lib\/ztmysql/g, dir)], { input: stdin, encoding: 'utf8' });
  }

  test('places payload files once, reports changed then unchanged, and fails on a missing entry', async () => {
    const { StepBuilder } = await import('../../../provisioning/step');
    const { mkdtempSync, readFileSync, statSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/ztmysql-prelude-');
    try {
      const b = new StepBuilder('demo', 'demo step');
      const src = b.inline('hello.txt', 'hello\n');
      const secret = b.input({ name: 'demo.secret', kind: 'password', secret: true });
      b.add(`zt_place ${src} ${dir}/hello.txt root root 0640`, `[ "$(cat ${secret})" = Demo-Password-0123456789 ] || zt_fail "secret did not arrive"`);
      const step = b.build();
      const stdin = renderStdin(step, { 'demo.secret': 'Demo-Password-0123456789' });
      const first = runScript(renderScript(step), stdin, dir);
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/^ztmysql-step: demo changed$/m);
      expect(readFileSync(`${dir}/hello.txt`, 'utf8')).toBe('hello\n');
      expect((statSync(`${dir}/hello.txt`).mode & 0o777).toString(8)).toBe('640');
      const second = runScript(renderScript(step), stdin, dir);
      expect(second.stdout).toMatch(/^ztmysql-step: demo unchanged$/m);
      const missing = runScript(renderScript(step), stdin.split('\n')[0] + '\n', dir);
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toMatch(/payload entry in\.demo\.secret missing from stdin/);
      expect(missing.stderr).not.toContain('Demo-Password');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
