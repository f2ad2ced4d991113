// Transport and identity: only a client with a valid, unrevoked certificate from the
// deployment's CA, for its own account, over TLS 1.3 with an allowed suite, gets in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { connectAs, testLab, testOutputs } from './support/testLab';
import { CLIENT_EXT, createCa, issueLeaf } from '../../lab/pki';
import { caName, opensslSubj, principalName } from '../../provisioning/pkiNames';

async function refused(p: Promise<mysql.Connection>): Promise<{ code?: string; errno?: number; message: string }> {
  try {
    const conn = await p;
    await conn.end();
  } catch (e) {
    const err = e as { code?: string; errno?: number; message: string };
    return err;
  }
  throw new Error('connection was accepted but must be refused');
}

describe('mutual TLS 1.3 is the only way in', () => {
  let rogueDir: string;

  beforeAll(() => {
    rogueDir = mkdtempSync(join(tmpdir(), 'ztmysql-rogue-ca-'));
  });
  afterAll(() => rmSync(rogueDir, { recursive: true, force: true }));

  test('a correct mTLS client negotiates TLSv1.3 with one of the two allowed suites', async () => {
    const conn = await connectAs('app', { database: undefined });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        "SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM performance_schema.session_status WHERE VARIABLE_NAME IN ('Ssl_version','Ssl_cipher')");
      const status = Object.fromEntries(rows.map((r) => [r.n, r.v]));
      expect(status.Ssl_version).toBe('TLSv1.3');
      expect(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']).toContain(status.Ssl_cipher);
      const [who] = await conn.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      expect(who[0].u).toBe(`app@${testLab().inst.hostAddress}`);
    } finally {
      await conn.end();
    }
  });

  test('a client without TLS is refused (require_secure_transport)', async () => {
    const o = testOutputs();
    const err = await refused(mysql.createConnection({
      host: o.host, port: o.port, user: 'app', password: o.principals.app.password, ssl: undefined,
    }));
    // Over plain TCP the account's REQUIRE SUBJECT and caching_sha2's full authentication
    // fail first (1045); require_secure_transport (3159) stands behind them and is
    // checked on the running server in serverHardening.test.ts.
    expect([1045, 3159]).toContain(err.errno);
  });

  test('a TLS client without a certificate is refused for the app account', async () => {
    const err = await refused(connectAs('app', { database: undefined, ssl: { ca: testOutputs().caCertPem, cert: undefined, key: undefined } as never }));
    expect(err.code).toBe('ER_ACCESS_DENIED_ERROR');
    expect(err.errno).toBe(1045);
  });

  test('a certificate from another CA with identical names is refused in the handshake', async () => {
    const o = testOutputs();
    const lab = testLab();
    createCa(rogueDir, opensslSubj(caName('ztmysql', `lab-${lab.inst.name}`)));
    const rogue = issueLeaf(rogueDir, 'app', opensslSubj(principalName('ztmysql', 'app')), CLIENT_EXT);
    const err = await refused(connectAs('app', { database: undefined, ssl: { ca: o.caCertPem, cert: rogue.certPem, key: rogue.keyPem } as never }));
    expect(`${err.code} ${err.message}`).toMatch(/UNKNOWN_CA|unknown ca|ECONNRESET|certificate/i);
    expect(err.code).not.toBe('ER_ACCESS_DENIED_ERROR');
  });

  test('a revoked certificate for the right subject is refused (CRL enforced)', async () => {
    const lab = testLab();
    const err = await refused(connectAs('app', {
      database: undefined,
      ssl: { ca: testOutputs().caCertPem, cert: lab.pki.revokedProbe.certPem, key: lab.pki.revokedProbe.keyPem } as never,
    }));
    expect(`${err.code} ${err.message}`).toMatch(/REVOKED|revoked|ECONNRESET/i);
  });

  test("a valid certificate for another principal's account is refused", async () => {
    const o = testOutputs();
    const err = await refused(connectAs('app', {
      database: undefined,
      ssl: { ca: o.caCertPem, cert: o.principals.auditor.certPem, key: o.principals.auditor.keyPem } as never,
    }));
    expect(err.code).toBe('ER_ACCESS_DENIED_ERROR');
  });

  test('the right certificate with a wrong password is refused', async () => {
    const err = await refused(connectAs('app', { database: undefined, password: 'Wrong-password-123456' }));
    expect(err.code).toBe('ER_ACCESS_DENIED_ERROR');
  });

  test('a TLS 1.2-only client is refused', async () => {
    const o = testOutputs();
    const err = await refused(connectAs('app', {
      database: undefined,
      ssl: { ca: o.caCertPem, cert: o.principals.app.certPem, key: o.principals.app.keyPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256' } as never,
    }));
    expect(`${err.code} ${err.message}`).toMatch(/PROTOCOL_VERSION|protocol version|ECONNRESET|EPROTO|handshake/i);
  });

  test('a TLS 1.3 client offering only a suite outside the two allowed is refused', async () => {
    const o = testOutputs();
    const err = await refused(connectAs('app', {
      database: undefined,
      ssl: { ca: o.caCertPem, cert: o.principals.app.certPem, key: o.principals.app.keyPem, ciphers: 'TLS_AES_128_GCM_SHA256' } as never,
    }));
    expect(`${err.code} ${err.message}`).toMatch(/HANDSHAKE_FAILURE|handshake failure|no shared cipher|ECONNRESET|EPROTO/i);
  });
});
