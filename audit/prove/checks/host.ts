// Host and server hardening, read from the running host over the operator's SSH and
// from the running server; and the optional OpenSCAP scan.
import { Check } from '../check';
import { NotRun } from '../types';
import { hardenedVariables } from '../../../provisioning/mysqlHardening';

export const hostChecks: Check[] = [
  {
    control: 'host-hardening', name: 'every hardened MySQL variable has its expected value on the running server',
    ran: 'SELECT from performance_schema.global_variables (as auditor), compared with provisioning/mysqlHardening.ts',
    expected: 'no mismatch',
    async run(ctx) {
      const wanted = hardenedVariables(ctx.outputs.host, ctx.outputs.port);
      const rows = await ctx.query('auditor', 'SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM performance_schema.global_variables WHERE VARIABLE_NAME IN (?)', [wanted.map((w) => w.variable)]);
      const actual = Object.fromEntries(rows.map((r) => [r.n, r.v]));
      const evidence = ctx.evidence('mysql-variables.json', JSON.stringify(actual, null, 2));
      const bad = wanted.filter((w) => actual[w.variable] !== w.expected).map((w) => `${w.variable}=${actual[w.variable] ?? '(absent)'} (want ${w.expected})`);
      return { observed: bad.length ? bad.join('; ') : `all ${wanted.length} match`, pass: bad.length === 0, evidence: [evidence] };
    },
  },
  {
    control: 'host-hardening', name: 'the X Protocol is off (nothing listens on 33060)',
    ran: "ss -Hltn '( sport = :33060 )' on the host",
    expected: 'no listener',
    async run(ctx) {
      const out = await ctx.onHost("ss -Hltn '( sport = :33060 )'");
      return { observed: out.trim() || 'no listener', pass: out.trim() === '' };
    },
  },
  {
    control: 'host-hardening', name: 'UFW is active with default deny incoming',
    ran: 'ufw status verbose',
    expected: 'Status: active; Default: deny (incoming)',
    async run(ctx) {
      const out = await ctx.onHost('ufw status verbose');
      const evidence = ctx.evidence('ufw-status.txt', out);
      const active = /^Status: active/m.test(out);
      const deny = /Default: deny \(incoming\)/.test(out);
      const open = out.split('\n').filter((l) => /ALLOW IN\s+Anywhere/.test(l));
      return { observed: `${active ? 'active' : 'inactive'}, ${deny ? 'deny' : 'not deny'} incoming, ${open.length} rules open to anywhere`, pass: active && deny && open.length === 0, evidence: [evidence] };
    },
  },
  {
    control: 'host-hardening', name: "fail2ban's sshd jail is up",
    ran: 'fail2ban-client status sshd',
    expected: 'jail sshd present',
    async run(ctx) {
      const out = await ctx.onHost('fail2ban-client status sshd');
      return { observed: out.split('\n')[0] ?? '', pass: /Status for the jail: sshd/.test(out), evidence: [ctx.evidence('fail2ban-sshd.txt', out)] };
    },
  },
  {
    control: 'host-hardening', name: "sshd's effective configuration refuses root and passwords",
    ran: 'sshd -T',
    expected: 'permitrootlogin no, passwordauthentication no, x11forwarding no, allowtcpforwarding no',
    async run(ctx) {
      const out = await ctx.onHost('sshd -T 2>/dev/null');
      const cfg = Object.fromEntries(out.split('\n').map((l) => [l.split(' ')[0].toLowerCase(), l.slice(l.indexOf(' ') + 1)]));
      const keys = ['permitrootlogin', 'passwordauthentication', 'x11forwarding', 'allowtcpforwarding'];
      const observed = keys.map((k) => `${k} ${cfg[k]}`).join(', ');
      return { observed, pass: keys.every((k) => cfg[k] === 'no'), evidence: [ctx.evidence('sshd-T.txt', out)] };
    },
  },
];

export const scanChecks: Check[] = [
  {
    control: 'scan-openscap', name: 'OpenSCAP CIS level 1 server profile',
    ran: 'oscap xccdf eval --profile cis_level1_server (when oscap and SCAP content are on the host)',
    expected: 'oscap exit 0 (all rules pass)',
    async run(ctx) {
      const probe = await ctx.onHost('command -v oscap >/dev/null && ls /usr/share/xml/scap/ssg/content/ssg-*-ds.xml 2>/dev/null | head -1 || true');
      const content = probe.trim();
      if (!content) throw new NotRun('oscap or SCAP Security Guide content is not installed on the host');
      const out = await ctx.onHost(`cd /tmp && oscap xccdf eval --profile xccdf_org.ssgproject.content_profile_cis_level1_server --results-arf /tmp/ztmysql-arf.xml --report /tmp/ztmysql-oscap.html ${content} >/dev/null 2>&1; echo $?`);
      const code = out.trim();
      const arf = await ctx.onHost('cat /tmp/ztmysql-arf.xml');
      const html = await ctx.onHost('cat /tmp/ztmysql-oscap.html');
      const evidence = [ctx.evidence('openscap/arf.xml', arf), ctx.evidence('openscap/report.html', html)];
      return { observed: `oscap exit ${code}`, pass: code === '0', evidence };
    },
  },
];
