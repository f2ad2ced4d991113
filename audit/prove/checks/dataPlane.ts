// Access, tenancy, crypto at rest and the audit log, checked as the principals that
// use them: the app is refused everything but its API, tenants it may not act for,
// and a tenant-less call; PII columns hold envelopes only; the log verifies.
import { randomUUID } from 'node:crypto';
import { Check, mustBeRefused } from '../check';
import { NotRun } from '../types';
import { APP_PROCEDURES, APP_VIEWS } from '../../../sql/grants';
import { loadAuditRows } from '../../load';
import { verifyAuditLog } from '../../verify';

const refusedQuery = (principal: string, sql: string, accept: RegExp): Check['run'] => async (ctx) => {
  const conn = await ctx.connect(principal, { database: ctx.outputs.database });
  try {
    return await mustBeRefused(async () => {
      await conn.query(sql);
      return { end: async () => undefined };
    }, accept);
  } finally {
    await conn.end();
  }
};

export const dataPlaneChecks: Check[] = [
  {
    control: 'access-procedures', name: "the app principal's grants are EXECUTE on the API and SELECT on the views, nothing else",
    ran: 'SHOW GRANTS (as app)', expected: `USAGE globally; EXECUTE on ${APP_PROCEDURES().length} procedures; SELECT on ${APP_VIEWS().length} views; no GRANT OPTION`,
    async run(ctx) {
      const rows = await ctx.query('app', 'SHOW GRANTS');
      const grants = rows.map((r) => String(Object.values(r)[0]));
      const evidence = ctx.evidence('grants-app.txt', grants.join('\n') + '\n');
      const bad = grants.filter((g) => {
        if (/^GRANT USAGE ON \*\.\* TO /.test(g)) return false;
        const proc = /^GRANT EXECUTE ON PROCEDURE `[^`]+`\.`([^`]+)` TO /.exec(g);
        if (proc) return !APP_PROCEDURES().includes(proc[1]);
        const view = /^GRANT SELECT ON `[^`]+`\.`([^`]+)` TO /.exec(g);
        if (view) return !APP_VIEWS().includes(view[1]);
        return true;
      });
      const withGrantOption = grants.filter((g) => /WITH GRANT OPTION/.test(g));
      return { observed: bad.length || withGrantOption.length ? `unexpected: ${[...bad, ...withGrantOption].join(' | ')}` : `${grants.length} grant lines, all within the API`, pass: bad.length === 0 && withGrantOption.length === 0, evidence: [evidence] };
    },
  },
  {
    control: 'access-procedures', name: 'the app cannot read a base table',
    ran: 'SELECT * FROM users LIMIT 1 (as app)', expected: 'refused: ER_TABLEACCESS_DENIED_ERROR',
    run: refusedQuery('app', 'SELECT * FROM users LIMIT 1', /ER_TABLEACCESS_DENIED_ERROR/),
  },
  {
    control: 'access-procedures', name: 'the app cannot run DDL',
    ran: 'CREATE TABLE zt_probe (id INT) (as app)', expected: 'refused: ER_TABLEACCESS_DENIED_ERROR',
    run: refusedQuery('app', 'CREATE TABLE zt_probe (id INT)', /ER_TABLEACCESS_DENIED_ERROR|ER_DBACCESS_DENIED_ERROR/),
  },
  {
    control: 'access-procedures', name: 'the app cannot write files on the server',
    ran: "SELECT 1 INTO OUTFILE '/var/lib/mysql-files/zt_probe' (as app)", expected: 'refused: ER_SPECIFIC_ACCESS_DENIED_ERROR or ER_ACCESS_DENIED_ERROR',
    run: refusedQuery('app', "SELECT 1 INTO OUTFILE '/var/lib/mysql-files/zt_probe'", /ER_SPECIFIC_ACCESS_DENIED_ERROR|ER_ACCESS_DENIED_ERROR/),
  },
  {
    control: 'tenant-isolation', name: 'setting a tenant the principal is not allowed is refused',
    ran: 'CALL security_set_tenant(<random UUID>) (as app)', expected: 'refused: ZT_TENANT_DENIED',
    run: (ctx) => refusedQuery('app', `CALL security_set_tenant('${randomUUID()}')`, /ZT_TENANT_DENIED/)(ctx),
  },
  {
    control: 'tenant-isolation', name: 'a call without a tenant context is refused',
    ran: 'CALL app_list_users(NULL, 10) on a fresh connection (as app)', expected: 'refused: ZT_NO_TENANT',
    run: refusedQuery('app', 'CALL app_list_users(NULL, 10)', /ZT_NO_TENANT/),
  },
  {
    control: 'crypto-envelope', name: 'every stored PII value is a client-side envelope',
    ran: "on the host, as root: count users rows whose name_ct, email_ct, phone_ct do not start with the envelope magic 'ZT' v1",
    expected: '0 rows with a non-envelope PII value',
    async run(ctx) {
      const out = await ctx.onHost(`mysql --no-defaults --protocol=socket -uroot --batch --skip-column-names -e "SELECT COUNT(*), SUM(NOT (LEFT(name_ct,3) = 0x5a5401 AND LEFT(email_ct,3) = 0x5a5401 AND (phone_ct IS NULL OR LEFT(phone_ct,3) = 0x5a5401))) FROM \\\`${ctx.outputs.database}\\\`.users"`);
      const [total, bad] = out.trim().split('\t');
      const badCount = bad === 'NULL' ? 0 : Number(bad);
      return { observed: `${total} users, ${badCount} with a non-envelope PII value`, pass: badCount === 0 };
    },
  },
  {
    control: 'audit-chain', name: 'the audit log verifies (leaf hashes, seq, Merkle checkpoints, chain)',
    ran: 'read audit_events, audit_seq, audit_checkpoints as auditor; audit/verify.ts', expected: 'no finding',
    async run(ctx) {
      const conn = await ctx.connect('auditor', { database: ctx.outputs.database });
      try {
        const report = verifyAuditLog(await loadAuditRows(conn));
        const evidence = ctx.evidence('audit-verify.json', JSON.stringify(report, null, 2));
        return { observed: `${report.events} events, tree size ${report.treeSize}, ${report.checkpoints} checkpoints, ${report.findings.length} findings`, pass: report.ok, evidence: [evidence] };
      } finally {
        await conn.end();
      }
    },
  },
  {
    control: 'audit-chain', name: 'the audit tables refuse DELETE, even where a grant would allow it',
    ran: 'START TRANSACTION; DELETE the oldest audit_events row; ROLLBACK (as owner, who holds ALL on the schema)',
    expected: 'refused: ZT_APPEND_ONLY',
    async run(ctx) {
      const conn = await ctx.connect('owner', { database: ctx.outputs.database });
      try {
        const [rows] = await conn.query<import('mysql2/promise').RowDataPacket[]>('SELECT MIN(event_id) AS id FROM audit_events');
        // On an empty log the DELETE would match nothing and prove nothing.
        if (rows[0].id === null) throw new NotRun('the audit log is empty');
        await conn.query('START TRANSACTION');
        try {
          return await mustBeRefused(async () => {
            const [r] = await conn.query<import('mysql2/promise').ResultSetHeader>('DELETE FROM audit_events WHERE event_id = ?', [rows[0].id]);
            if (r.affectedRows === 0) throw new Error('matched no row');
            return { end: async () => undefined };
          }, /ZT_APPEND_ONLY/);
        } finally {
          await conn.query('ROLLBACK');
        }
      } finally {
        await conn.end();
      }
    },
  },
];
