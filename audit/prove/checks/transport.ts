// Transport and identity: what the running server enforces, and what it does when
// clients that must be refused try to connect.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Check, mustBeRefused } from '../check';
import { NotRun } from '../types';
import { CLIENT_EXT, createCa, issueLeaf } from '../../x509';
import { TLS_CIPHERSUITES } from '../../../provisioning/mysqlHardening';

const ALLOWED_SUITES = TLS_CIPHERSUITES.split(':');

export const transportChecks: Check[] = [
  {
    control: 'transport-tls13', name: 'server enforces TLS 1.3 only with the two allowed suites',
    ran: 'SELECT @@require_secure_transport, @@tls_version, @@tls_ciphersuites (as auditor)',
    expected: `1 | TLSv1.3 | ${TLS_CIPHERSUITES}`,
    async run(ctx) {
      const [r] = await ctx.query('auditor', 'SELECT @@require_secure_transport AS rst, @@tls_version AS v, @@tls_ciphersuites AS s');
      const observed = `${r.rst} | ${r.v} | ${r.s}`;
      return { observed, pass: observed === `1 | TLSv1.3 | ${TLS_CIPHERSUITES}` };
    },
  },
  {
    control: 'transport-tls13', name: 'the app principal negotiates TLSv1.3 with an allowed suite',
    ran: 'mTLS connect as app; read Ssl_version and Ssl_cipher from performance_schema.session_status',
    expected: `TLSv1.3 with one of ${ALLOWED_SUITES.join(', ')}`,
    async run(ctx) {
      const rows = await ctx.query('app', "SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM performance_schema.session_status WHERE VARIABLE_NAME IN ('Ssl_version','Ssl_cipher')");
      const s = Object.fromEntries(rows.map((r) => [r.n, r.v]));
      return { observed: `${s.Ssl_version} with ${s.Ssl_cipher}`, pass: s.Ssl_version === 'TLSv1.3' && ALLOWED_SUITES.includes(s.Ssl_cipher) };
    },
  },
  {
    control: 'transport-tls13', name: 'a client without TLS is refused',
    ran: 'plain TCP connect as app with the right password, no TLS',
    expected: 'refused (1045 or 3159)',
    run: (ctx) => mustBeRefused(() => mysql.createConnection({
      host: ctx.outputs.host, port: ctx.outputs.port, user: ctx.outputs.principals.app.user,
      password: ctx.outputs.principals.app.password, connectTimeout: 10000,
    }), /1045|3159/),
  },
  {
    control: 'transport-tls13', name: 'a TLS 1.2-only client is refused',
    ran: 'mTLS connect as app with maxVersion TLSv1.2',
    expected: 'handshake refused',
    run: (ctx) => mustBeRefused(() => ctx.connect('app', {
      ssl: { ca: ctx.outputs.caCertPem, cert: ctx.outputs.principals.app.certPem, key: ctx.outputs.principals.app.keyPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' } as never,
    }), /PROTOCOL_VERSION|protocol version|ECONNRESET|EPROTO|handshake/i),
  },
  {
    control: 'identity-mtls', name: 'a TLS client without a certificate is refused',
    ran: 'TLS connect as app with the right password and no client certificate',
    expected: 'refused: ER_ACCESS_DENIED_ERROR',
    run: (ctx) => mustBeRefused(() => ctx.connect('app', { ssl: { ca: ctx.outputs.caCertPem, cert: undefined, key: undefined } as never }), /ER_ACCESS_DENIED_ERROR/),
  },
  {
    control: 'identity-mtls', name: "another principal's valid certificate is refused",
    ran: "mTLS connect as app presenting the auditor's certificate",
    expected: 'refused: ER_ACCESS_DENIED_ERROR',
    run: (ctx) => mustBeRefused(() => ctx.connect('app', {
      ssl: { ca: ctx.outputs.caCertPem, cert: ctx.outputs.principals.auditor.certPem, key: ctx.outputs.principals.auditor.keyPem } as never,
    }), /ER_ACCESS_DENIED_ERROR/),
  },
  {
    control: 'identity-mtls', name: 'a certificate from another CA with identical names is refused',
    ran: 'openssl: throwaway P-384 CA and client certificate with the same subject and issuer names; mTLS connect as app',
    expected: 'handshake refused (unknown CA)',
    async run(ctx) {
      const dir = mkdtempSync(join(tmpdir(), 'ztmysql-prove-rogue-'));
      try {
        createCa(dir, dnOf(ctx.outputs.caCertPem));
        const rogue = issueLeaf(dir, 'app', dnOf(ctx.outputs.principals.app.certPem), CLIENT_EXT);
        return await mustBeRefused(() => ctx.connect('app', { ssl: { ca: ctx.outputs.caCertPem, cert: rogue.certPem, key: rogue.keyPem } as never }),
          /UNKNOWN_CA|unknown ca|ECONNRESET|certificate/i);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    control: 'identity-mtls', name: 'a revoked certificate is refused (CRL enforced)',
    ran: 'mTLS connect as app with the revoked probe certificate from the outputs',
    expected: 'handshake refused (certificate revoked)',
    async run(ctx) {
      const probe = ctx.outputs.revokedProbe as { certPem?: string; keyPem?: string } | undefined;
      if (!probe?.certPem || !probe.keyPem) throw new NotRun('the outputs carry no revoked probe certificate');
      return mustBeRefused(() => ctx.connect('app', { ssl: { ca: ctx.outputs.caCertPem, cert: probe.certPem, key: probe.keyPem } as never }),
        /REVOKED|revoked|ECONNRESET/i);
    },
  },
];

/** "/O=x/CN=y" from a certificate's subject, in issuance order (openssl -subj form). */
function dnOf(pem: string): string {
  return '/' + new X509Certificate(pem).subject.split('\n').join('/');
}
