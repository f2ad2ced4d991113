// No column escapes the audit log: every column of every protected table, as the
// rendered CREATE TABLE declares it, appears in the INSERT/UPDATE/DELETE trigger
// images (name literal and NEW./OLD. value); each table has its three triggers and
// its tenant column; the app is granted the API and views only.
import { encodeField, textField } from '../../../audit/format';
import { allRoutines } from '../../../sql/api';
import { principalGrantsSql, revokeQuerySql } from '../../../sql/grants';
import { renderDataPlaneSql, triggerNames } from '../../../sql/render';
import { createTableSql, protectedTriggersSql, AUDIT_TABLES } from '../../../sql/schema';
import { hexLit } from '../../../sql/sqlExpr';
import { TABLE_SPECS, TableSpec } from '../../../sql/tableSpecs';

/** Column names of a rendered CREATE TABLE (lines starting with a backticked identifier). */
function ddlColumns(sql: string): string[] {
  return [...sql.matchAll(/^ {2}`([a-z_]+)` /gm)].map((m) => m[1] as string);
}

function covered(trigger: string, row: 'NEW' | 'OLD'): string[] {
  return [...trigger.matchAll(new RegExp(`${row}\\.\`([a-z_]+)\``, 'g'))].map((m) => m[1] as string);
}

describe('protected table specs', () => {
  test.each(TABLE_SPECS.map((t) => [t.name, t] as [string, TableSpec]))('%s: every column is in every audit image', (_n, t) => {
    const cols = ddlColumns(createTableSql(t));
    expect(cols).toEqual(t.columns.map((c) => c.name));
    const [ins, upd, del] = protectedTriggersSql(t) as [string, string, string];
    const need = new Set(cols);
    expect(new Set(covered(ins, 'NEW'))).toEqual(need);
    expect(new Set(covered(upd, 'NEW'))).toEqual(need);
    expect(new Set(covered(upd, 'OLD'))).toEqual(need);
    expect(new Set(covered(del, 'OLD'))).toEqual(need);
    for (const c of cols) {
      const nameLit = hexLit(encodeField(textField(c)));
      expect(ins).toContain(nameLit);
      expect(upd.split(nameLit).length - 1).toBeGreaterThanOrEqual(2);
      expect(del).toContain(nameLit);
    }
    expect(t.tenantColumn && cols.includes(t.tenantColumn)).toBeTruthy();
    expect(t.primaryKey.every((k) => cols.includes(k))).toBe(true);
  });

  test('a column added to the DDL but not to the triggers is detected', () => {
    const t = TABLE_SPECS.find((s) => s.name === 'accounts') as TableSpec;
    const ddl = createTableSql(t).replace('  `currency`', '  `iban` VARCHAR(34) NULL,\n  `currency`');
    const [ins] = protectedTriggersSql(t) as [string];
    expect(new Set(ddlColumns(ddl))).not.toEqual(new Set(covered(ins, 'NEW')));
  });

  test('every protected table and audit table has its triggers in the rendered SQL', () => {
    const all = renderDataPlaneSql('ztmysql', []).map((f) => f.sql).join('\n');
    for (const name of triggerNames()) expect(all).toContain(`TRIGGER ${name} `);
    for (const t of AUDIT_TABLES) {
      expect(all).toMatch(new RegExp(`BEFORE UPDATE ON ${t} FOR EACH ROW\\s+SIGNAL SQLSTATE '45000'`));
      expect(all).toMatch(new RegExp(`BEFORE DELETE ON ${t} FOR EACH ROW\\s+SIGNAL SQLSTATE '45000'`));
    }
  });
});

describe('procedure API and grants', () => {
  test('every routine is SQL SECURITY DEFINER under the locked definer', () => {
    for (const r of allRoutines()) {
      expect(r.sql).toContain('DEFINER=`ztmysql_definer`@`localhost`');
      expect(r.sql).toContain('SQL SECURITY DEFINER');
    }
  });

  test('every app and admin procedure re-checks its input before writing; tenant procedures call zt_require_tenant', () => {
    for (const r of allRoutines().filter((x) => x.kind === 'PROCEDURE' && x.name.startsWith('app_'))) {
      expect(r.sql).toContain('zt_require_tenant()');
      for (const p of r.params) expect(r.sql).toContain(p.name);
    }
  });

  test('the app gets EXECUTE on app/security procedures and SELECT on views only; the auditor SELECT on audit tables and EXECUTE on the two verifier procedures only', () => {
    const grants = principalGrantsSql('ztmysql', [{ user: 'app', host: '10.0.0.1', role: 'app' }, { user: 'auditor', host: '10.0.0.1', role: 'auditor' }]);
    for (const g of grants.filter((x) => x.includes("'app'@"))) expect(g).toMatch(/^GRANT (EXECUTE ON PROCEDURE `ztmysql`\.`(app|security)_\w+`|SELECT ON `ztmysql`\.`v_\w+`) TO /);
    for (const g of grants.filter((x) => x.includes("'auditor'@"))) {
      expect(g).toMatch(/^GRANT (SELECT ON `ztmysql`\.`audit_(events|seq|checkpoints|pending)`|EXECUTE ON PROCEDURE `ztmysql`\.`audit_(anchor_snapshot|state_digests)`) TO /);
    }
    expect(grants.filter((x) => x.includes("'auditor'@") && x.includes('EXECUTE'))).toHaveLength(2);
    expect(grants.some((g) => /admin_|zt_/.test(g))).toBe(false);
    expect(revokeQuerySql('ztmysql', [{ user: 'app', host: '10.0.0.1', role: 'app' }])).toContain('REVOKE IF EXISTS');
  });
});
