// `ztmysql prove` against the test lab: with data written, sealed and anchored,
// every control holds; weaken one setting by hand and the proof fails and names the
// control; the bundle's manifest matches its files.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { onHost, rootSql, testOutputs } from './support/testLab';
import { app, createUser, owner, tenantWithDek } from './support/dataplane';
import { prove } from '../../audit/prove/runner';
import { allChecks } from '../../audit/prove/checks';
import { listAnchorObjects } from '../../audit/anchorSource';

let dir: string;

async function sealedAndAnchored(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [[events, sealed]] = await rootSql('SELECT (SELECT COUNT(*) FROM ztmysql.audit_events), (SELECT COALESCE(MAX(seq), 0) FROM ztmysql.audit_seq);');
    if (events === sealed && Number(events) > 0) break;
    if (Date.now() > deadline) throw new Error(`not sealed: ${sealed}/${events}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // An anchor now, rather than waiting for the next tick, and wait until it is stored.
  const source = testOutputs().anchors!.source;
  const before = (await listAnchorObjects(source)).map((f) => statSync(f).size).reduce((a, b) => a + b, 0);
  await onHost('systemctl start ztmysql-anchor.service');
  for (;;) {
    const now = (await listAnchorObjects(source)).map((f) => statSync(f).size).reduce((a, b) => a + b, 0);
    if (now > before) return;
    if (Date.now() > deadline) throw new Error('the anchor did not reach the collector');
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ztmysql-prove-test-'));
  const o = await owner();
  const a = await app();
  try {
    const f = await tenantWithDek(o, a);
    await createUser(a, f);
  } finally {
    await o.end();
    await a.end();
  }
  await sealedAndAnchored();
});

afterAll(async () => {
  await rootSql('SET GLOBAL require_secure_transport = ON;');
  rmSync(dir, { recursive: true, force: true });
});

test('on a healthy lab every control that can run holds, and the bundle matches its manifest', async () => {
  const bundle = join(dir, 'healthy.tar.gz');
  const result = await prove(testOutputs(), allChecks, { bundlePath: bundle });
  const byId = Object.fromEntries(result.manifest.controls.map((c) => [c.id, c.status]));
  expect(byId).toEqual({
    'transport-tls13': 'pass', 'identity-mtls': 'pass', 'access-procedures': 'pass', 'tenant-isolation': 'pass',
    'crypto-envelope': 'pass', 'audit-chain': 'pass', 'anchor-worm': 'pass', 'host-hardening': 'pass',
    'proof-bundle': 'pass', 'scan-openscap': 'not-run',
  });
  expect(result.exitCode).toBe(0);
  expect(result.manifest.checks.filter((c) => c.status === 'fail')).toEqual([]);

  const out = join(dir, 'healthy');
  spawnSync('mkdir', ['-p', out]);
  expect(spawnSync('tar', ['-xzf', bundle, '-C', out]).status).toBe(0);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const evidence = readdirSync(join(out, 'evidence'), { recursive: true }).map(String).filter((p) => statSync(join(out, 'evidence', p)).isFile());
  expect(manifest.files.map((f: { path: string }) => f.path).sort()).toEqual(evidence.map((p) => join('evidence', p)).sort());
  for (const f of manifest.files) {
    expect(createHash('sha256').update(readFileSync(join(out, f.path))).digest('hex')).toBe(f.sha256);
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expect(html).toMatch(/<title>ztmysql proof/);
  expect(html).toContain('All controls that ran hold');
  expect(html).not.toMatch(/<script/i);
});

test('after require_secure_transport is turned off by hand, prove exits 1 and names the transport control', async () => {
  await rootSql('SET GLOBAL require_secure_transport = OFF;');
  try {
    const result = await prove(testOutputs(), allChecks, { bundlePath: join(dir, 'weakened.tar.gz') });
    expect(result.exitCode).toBe(1);
    const failed = result.manifest.controls.filter((c) => c.status === 'fail').map((c) => c.id);
    expect(failed).toContain('transport-tls13');
    const failedChecks = result.manifest.checks.filter((c) => c.status === 'fail');
    expect(failedChecks.map((c) => c.check)).toEqual(expect.arrayContaining(['server enforces TLS 1.3 only with the two allowed suites']));
    expect(failedChecks.find((c) => c.check.startsWith('server enforces'))?.observed).toMatch(/^0 \| TLSv1\.3/);
  } finally {
    await rootSql('SET GLOBAL require_secure_transport = ON;');
  }
});
