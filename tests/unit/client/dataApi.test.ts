// Pure parts of the data path: error mapping, the pool/tenant rule (with a fake pool),
// PKCS#11 key names, PIN files, the offline record encryption and CLI exit codes.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { toZtError, ZtApiError, ZtConnectionError } from '../../../client/dataApi';
import { decryptField } from '../../../client/envelope';
import { KeyWrapError } from '../../../client/errors';
import { parsePkcs11KeyName, pkcs11KeyName, PIN_ENV, readPin } from '../../../client/kmsConfig';
import { dekWrapAad, KeyWrapper, parseWrappedKey, WrappedKey } from '../../../client/kms/keyWrapper';
import { encryptUserRecord } from '../../../client/recordCrypto';
import { TenantSessions } from '../../../client/tenantSession';
import { reportError } from '../../../cli/data';
import { UsageError } from '../../../cli/args';
import { OutputsError } from '../../../client/deploymentOutputs';
import { ZtDecryptError } from '../../../client/ztClient';

describe('toZtError', () => {
  test('a data-plane SIGNAL becomes ZtApiError with its ZT_ code', () => {
    const e = toZtError({ code: 'ER_SIGNAL_EXCEPTION', sqlState: '45000', sqlMessage: 'ZT_NO_TENANT: no authorised tenant', sql: "CALL x(X'00')" });
    expect(e).toBeInstanceOf(ZtApiError);
    expect((e as ZtApiError).code).toBe('ZT_NO_TENANT');
    expect(e.message).not.toContain('CALL');
  });
  test.each(['ECONNREFUSED', 'ER_ACCESS_DENIED_ERROR', 'HANDSHAKE_SSL_ERROR', 'PROTOCOL_CONNECTION_LOST'])('%s is a connection error', (code) => {
    const e = toZtError({ code, message: 'boom' });
    expect(e).toBeInstanceOf(ZtConnectionError);
    expect((e as ZtConnectionError).code).toBe(code);
  });
  test('other SQL errors keep their code, never the statement', () => {
    const e = toZtError({ code: 'ER_PARSE_ERROR', sqlState: '42000', sqlMessage: 'syntax', sql: 'SELECT secret' });
    expect(e).toBeInstanceOf(ZtApiError);
    expect((e as ZtApiError).code).toBe('ER_PARSE_ERROR');
    expect(e.message).not.toContain('secret');
  });
});

// A fake pool recording the statements each connection ran.
function fakePool(opts: { failOn?: RegExp } = {}) {
  const log: string[] = [];
  const conn = {
    threadId: 1,
    query: jest.fn(async (sql: string) => {
      log.push(sql.split('(')[0]);
      if (opts.failOn?.test(sql)) throw Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
      return [[[]], []];
    }),
    release: jest.fn(() => log.push('release')),
    destroy: jest.fn(() => log.push('destroy')),
  };
  const pool = { getConnection: jest.fn(async () => conn), end: jest.fn(async () => undefined) };
  return { pool: pool as unknown as Pool, conn: conn as unknown as PoolConnection, log };
}

describe('TenantSessions', () => {
  const tenant = randomUUID();

  test('set, run, clear, release', async () => {
    const { pool, log } = fakePool();
    const s = new TenantSessions(pool);
    expect(await s.run(tenant, async (c) => { await c.query('CALL app_list_users(?, ?)', [null, 1]); return 7; })).toBe(7);
    expect(log).toEqual(['CALL security_set_tenant', 'CALL app_list_users', 'CALL security_clear_tenant', 'release']);
    expect(s.stats).toEqual({ runs: 1, released: 1, destroyed: 0 });
  });

  test('a throwing request still clears and releases', async () => {
    const { pool, log } = fakePool();
    const s = new TenantSessions(pool);
    await expect(s.run(tenant, async () => { throw new Error('app'); })).rejects.toThrow('app');
    expect(log.slice(-2)).toEqual(['CALL security_clear_tenant', 'release']);
  });

  test('a failed set still clears (the procedure nulls the context first)', async () => {
    const { pool, log } = fakePool({ failOn: /security_set_tenant/ });
    const s = new TenantSessions(pool);
    await expect(s.run(tenant, async () => 1)).rejects.toBeInstanceOf(ZtConnectionError);
    expect(log).toEqual(['CALL security_set_tenant', 'CALL security_clear_tenant', 'release']);
  });

  test('a connection whose clear fails is destroyed, never released', async () => {
    const { pool, log } = fakePool({ failOn: /security_clear_tenant/ });
    const s = new TenantSessions(pool);
    expect(await s.run(tenant, async () => 'ok')).toBe('ok');
    expect(log.slice(-2)).toEqual(['CALL security_clear_tenant', 'destroy']);
    expect(log).not.toContain('release');
    expect(s.stats.destroyed).toBe(1);
  });

  test('an invalid tenant id takes no connection', async () => {
    const { pool } = fakePool();
    const s = new TenantSessions(pool);
    await expect(s.run('not-a-uuid', async () => 1)).rejects.toMatchObject({ code: 'ZT_BAD_UUID' });
    expect((pool.getConnection as jest.Mock).mock.calls).toHaveLength(0);
  });
});

describe('PKCS#11 key names', () => {
  test('round trip with characters that need escaping', () => {
    const name = pkcs11KeyName('tok;en=1', 'kek v2/é');
    expect(name).toBe('pkcs11:token=tok%3Ben%3D1;object=kek%20v2%2F%C3%A9');
    expect(parsePkcs11KeyName(name)).toEqual({ tokenLabel: 'tok;en=1', keyLabel: 'kek v2/é' });
  });
  test.each(['projects/p/locations/l/keyRings/r/cryptoKeys/k', 'pkcs11:token=t', 'pkcs11:object=k', 'pkcs11:token=t;object', 'pkcs11:token=%E0%A4%A;object=k'])('refuses %s', (n) => {
    expect(() => parsePkcs11KeyName(n)).toThrow(KeyWrapError);
  });
});

describe('readPin', () => {
  let dir: string;
  const saved = process.env[PIN_ENV];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zt-pin-'));
    delete process.env[PIN_ENV];
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env[PIN_ENV];
    else process.env[PIN_ENV] = saved;
  });

  test('JSON userPin, raw PIN, env and explicit PIN, in that precedence order reversed', () => {
    const f = join(dir, 'hsm.json');
    writeFileSync(f, JSON.stringify({ soPin: 'so-secret', userPin: 'user-secret' }), { mode: 0o600 });
    expect(readPin({ pinFile: f })).toBe('user-secret');
    const raw = join(dir, 'pin');
    writeFileSync(raw, 'raw-pin\n', { mode: 0o600 });
    expect(readPin({ pinFile: raw })).toBe('raw-pin');
    process.env[PIN_ENV] = 'env-pin';
    expect(readPin({ pinFile: raw })).toBe('env-pin');
    expect(readPin({ pinFile: raw }, 'given')).toBe('given');
  });

  test('a group/world-readable PIN file is refused without echoing the PIN', () => {
    const f = join(dir, 'hsm.json');
    writeFileSync(f, JSON.stringify({ userPin: 'very-secret-pin' }), { mode: 0o600 });
    chmodSync(f, 0o644);
    let msg = '';
    try {
      readPin({ pinFile: f });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/chmod 600/);
    expect(msg).not.toContain('very-secret-pin');
    expect(() => readPin({})).toThrow(/no PKCS#11 PIN/);
  });
});

// A software wrapper (AES-256-GCM under a random KEK, AAD bound) for the offline encryption test.
class SoftWrapper implements KeyWrapper {
  readonly kind = 'gcp-kms' as const;
  readonly keyName = 'projects/p/locations/l/keyRings/r/cryptoKeys/unit';
  private readonly kek = randomBytes(32);
  async wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.kek, iv);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(dek), c.final()]);
    return { kind: this.kind, keyName: this.keyName, keyVersion: '1', payload: Buffer.concat([iv, ct, c.getAuthTag()]) };
  }
  async unwrap(w: WrappedKey, aad: Buffer): Promise<Buffer> {
    const d = createDecipheriv('aes-256-gcm', this.kek, w.payload.subarray(0, 12));
    d.setAAD(aad);
    d.setAuthTag(w.payload.subarray(w.payload.length - 16));
    return Buffer.concat([d.update(w.payload.subarray(12, w.payload.length - 16)), d.final()]);
  }
  async describe() {
    return { protectionLevel: 'HSM' as const, keyVersion: '1' };
  }
  async close() {}
}

describe('encryptUserRecord (ztmysql encrypt)', () => {
  test('fields decrypt with the unwrapped DEK in their own context only', async () => {
    const w = new SoftWrapper();
    const tenantId = randomUUID();
    const rec = await encryptUserRecord(w, tenantId, { name: 'Ada L', role: 'admin', email: 'ada@example.test', phone: null });
    expect(rec.fields.phone_ct).toBeNull();
    const wrapped = parseWrappedKey(Buffer.from(rec.dek.wrapped, 'base64'));
    const key = await w.unwrap(wrapped, dekWrapAad(tenantId, rec.dek.id));
    const dek = { id: rec.dek.id, key };
    const ctx = (column: string) => ({ tenantId, table: 'users', column, rowId: rec.userId });
    expect(decryptField(dek, ctx('name_ct'), Buffer.from(rec.fields.name_ct, 'base64')).toString()).toBe('Ada L');
    expect(() => decryptField(dek, ctx('email_ct'), Buffer.from(rec.fields.name_ct, 'base64'))).toThrow(/authentication failed/);
    await expect(w.unwrap(wrapped, dekWrapAad(randomUUID(), rec.dek.id))).rejects.toThrow();
    expect(JSON.stringify(rec)).not.toContain('ada@example.test');
  });
});

describe('CLI exit codes', () => {
  let spy: jest.SpyInstance;
  beforeEach(() => { spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true); });
  afterEach(() => spy.mockRestore());

  test('usage, outputs and connection errors exit 2; refusals and decrypt failures exit 1', () => {
    expect(reportError(new UsageError('x'))).toBe(2);
    expect(reportError(new OutputsError('x'))).toBe(2);
    expect(reportError(new ZtConnectionError('ECONNREFUSED', 'x'))).toBe(2);
    expect(reportError(new KeyWrapError('PKCS11_LOGIN_FAILED', 'x'))).toBe(2);
    expect(reportError(new ZtApiError('ZT_NOT_FOUND', 'x'))).toBe(1);
    expect(reportError(new ZtDecryptError('ENVELOPE_AAD_MISMATCH', randomUUID(), 'email_ct', 'x'))).toBe(1);
  });
});
