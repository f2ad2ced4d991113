// The hardened server and host, read from what is running: the server's variables,
// listening sockets, firewall, fail2ban, sshd's effective config, files and accounts.
import net from 'node:net';
import mysql from 'mysql2/promise';
import { connectAs, onHost, rootSql, testLab } from './support/testLab';
import { hardenedVariables, TLS_FILES, ERROR_LOG, KEYRING_DIR } from '../../provisioning/mysqlHardening';
import { SYSCTLS } from '../../provisioning/steps/hostHardening';
import { run } from '../../lab/exec';

/** TCP connect from a given local address; resolves 'connected', 'refused' or 'timeout'. */
function tcpProbe(host: string, port: number, localAddress?: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    const done = (r: string): void => { s.destroy(); resolve(r); };
    s.setTimeout(timeoutMs, () => done('timeout'));
    s.once('connect', () => done('connected'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : `error:${e.code}`));
  });
}

describe('the running MySQL server is hardened', () => {
  test('every hardened variable has its expected value on the running server', async () => {
    const lab = testLab();
    const wanted = hardenedVariables(lab.inst.guestAddress, 3306);
    const conn = await connectAs('owner');
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        'SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM performance_schema.global_variables WHERE VARIABLE_NAME IN (?)',
        [wanted.map((w) => w.variable)]);
      const actual = Object.fromEntries(rows.map((r) => [r.n, r.v]));
      const mismatches = wanted.filter((w) => actual[w.variable] !== w.expected)
        .map((w) => `${w.variable}: expected ${w.expected}, running ${actual[w.variable]}`);
      expect(mismatches).toEqual([]);
      expect(wanted.length).toBeGreaterThan(30);
    } finally {
      await conn.end();
    }
  });

  test('the X Protocol is off: no plugin, nothing listening on 33060, connections fail', async () => {
    const plugin = await rootSql("SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name = 'mysqlx' AND plugin_status = 'ACTIVE'");
    expect(plugin[0][0]).toBe('0');
    const listeners = await onHost("ss -Hltn '( sport = :33060 )' | wc -l");
    expect(listeners.trim()).toBe('0');
    expect(await tcpProbe(testLab().inst.guestAddress, 33060)).not.toBe('connected');
  });

  test('mysqld listens only on the host address, port 3306', async () => {
    const out = await onHost("ss -Hltnp | grep mysqld | awk '{print $4}' | sort -u");
    expect(out.trim().split('\n')).toEqual([`${testLab().inst.guestAddress}:3306`]);
  });

  test('components for password validation, connection control and the keyring are active', async () => {
    const components = (await rootSql('SELECT component_urn FROM mysql.component ORDER BY 1')).map((r) => r[0]);
    expect(components).toEqual(expect.arrayContaining(['file://component_connection_control', 'file://component_validate_password']));
    const keyring = await rootSql("SELECT STATUS_VALUE FROM performance_schema.keyring_component_status WHERE STATUS_KEY = 'Component_status'");
    expect(keyring[0][0]).toBe('Active');
    const sysTablespace = await rootSql("SELECT ENCRYPTION FROM information_schema.INNODB_TABLESPACES WHERE NAME = 'mysql'");
    expect(sysTablespace[0][0]).toBe('Y');
  });

  test('a weak password is rejected by the STRONG policy', async () => {
    const err = await onHost("mysql --no-defaults --protocol=socket -uroot -e \"CREATE USER 'weakling'@'localhost' IDENTIFIED BY 'short1'\" 2>&1 || true");
    expect(err).toMatch(/ERROR 1819|does not satisfy the current policy/);
    expect(await rootSql("SELECT COUNT(*) FROM mysql.user WHERE user = 'weakling'")).toEqual([['0']]);
  });

  test('accounts: no anonymous users, root only on the socket, every remote account certificate-bound', async () => {
    expect(await rootSql("SELECT COUNT(*) FROM mysql.user WHERE user = ''")).toEqual([['0']]);
    expect(await rootSql("SELECT host, plugin FROM mysql.user WHERE user = 'root'")).toEqual([['localhost', 'auth_socket']]);
    const remote = await rootSql("SELECT user, host, ssl_type, x509_subject <> '' AND x509_issuer <> '', plugin FROM mysql.user WHERE host NOT IN ('localhost','127.0.0.1','::1') ORDER BY user");
    expect(remote.map((r) => r[0])).toEqual(['app', 'auditor', 'owner']);
    for (const r of remote) {
      expect(r[2]).toBe('SPECIFIED');
      expect(r[3]).toBe('1');
      expect(r[4]).toBe('caching_sha2_password');
      expect(r[1]).toBe(testLab().inst.hostAddress);
    }
    expect(await rootSql("SELECT COUNT(*) FROM mysql.user WHERE authentication_string = '' AND plugin <> 'auth_socket'")).toEqual([['0']]);
    expect(await rootSql("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'test'")).toEqual([['0']]);
    const grantOption = await rootSql("SELECT DISTINCT user FROM mysql.user WHERE Grant_priv = 'Y' ORDER BY 1");
    expect(grantOption.map((r) => r[0]).filter((u) => !['root', 'mysql.session', 'debian-sys-maint'].includes(u))).toEqual([]);
  });

  test('TLS material and server files have owner-only modes', async () => {
    const out = await onHost(`stat -c '%n %U:%G %a' ${TLS_FILES.key} ${TLS_FILES.crl} /var/lib/mysql /var/lib/mysql-files ${ERROR_LOG} ${KEYRING_DIR} /etc/mysql/mysql.conf.d/ztmysql-hardening.cnf`);
    const modes = Object.fromEntries(out.trim().split('\n').map((l) => { const [n, o, m] = l.split(' '); return [n, `${o} ${m}`]; }));
    expect(modes[TLS_FILES.key]).toBe('mysql:mysql 600');
    expect(modes[TLS_FILES.crl]).toBe('root:mysql 644');
    expect(['mysql:mysql 700', 'mysql:mysql 750']).toContain(modes['/var/lib/mysql']);
    expect(modes['/var/lib/mysql-files']).toBe('mysql:mysql 700');
    expect(modes[ERROR_LOG]).toBe('mysql:adm 600');
    expect(modes['/etc/mysql/mysql.conf.d/ztmysql-hardening.cnf']).toBe('root:mysql 640');
  });
});

describe('the host is hardened', () => {
  test('UFW is active with default deny and allows only the configured ranges', async () => {
    const status = await onHost('ufw status verbose');
    expect(status).toMatch(/^Status: active/m);
    expect(status).toMatch(/Default: deny \(incoming\)/);
    const lab = testLab();
    const allows = status.split('\n').filter((l) => /ALLOW IN/.test(l)).map((l) => l.replace(/\s+/g, ' ').trim());
    expect(allows).toEqual([`22/tcp ALLOW IN ${lab.inst.hostAddress}`, `3306/tcp ALLOW IN ${lab.inst.hostAddress}`]);
  });

  test('MySQL is unreachable from an address outside the client ranges', async () => {
    const lab = testLab();
    // A second address on the host side of the veth, inside the lab's /24 but not allowed.
    const outsider = `198.18.${lab.inst.index}.9`;
    run(['ip', 'addr', 'add', `${outsider}/32`, 'dev', lab.inst.vethHost], { allowFail: true });
    try {
      expect(await tcpProbe(lab.inst.guestAddress, 3306, outsider)).toBe('timeout');
      expect(await tcpProbe(lab.inst.guestAddress, 22, outsider)).toBe('timeout');
      // The same probe from the allowed address connects: the firewall, not routing, decides.
      expect(await tcpProbe(lab.inst.guestAddress, 3306, lab.inst.hostAddress)).toBe('connected');
    } finally {
      run(['ip', 'addr', 'del', `${outsider}/32`, 'dev', lab.inst.vethHost], { allowFail: true });
    }
  });

  test("fail2ban's sshd jail is up on the systemd backend", async () => {
    const out = await onHost('fail2ban-client status sshd');
    expect(out).toMatch(/Status for the jail: sshd/);
    expect(out).toMatch(/Journal matches:\s+_SYSTEMD_UNIT=(sshd|ssh)\.service/);
  });

  test("sshd's effective configuration refuses root, passwords and forwarding", async () => {
    const t = await onHost('sshd -T 2>/dev/null');
    const cfg = Object.fromEntries(t.split('\n').map((l) => [l.split(' ')[0].toLowerCase(), l.slice(l.indexOf(' ') + 1)]));
    expect(cfg.permitrootlogin).toBe('no');
    expect(cfg.passwordauthentication).toBe('no');
    expect(cfg.kbdinteractiveauthentication).toBe('no');
    expect(Number(cfg.maxauthtries)).toBeLessThanOrEqual(4);
    expect(cfg.x11forwarding).toBe('no');
    expect(cfg.allowtcpforwarding).toBe('no');
    expect(cfg.allowagentforwarding).toBe('no');
    expect(cfg.permittunnel).toBe('no');
    expect(cfg.loglevel).toBe('VERBOSE');
    expect(cfg.allowusers).toBe('ztops');
  });

  test('network sysctls are set inside the host', async () => {
    const netKeys = SYSCTLS.filter(([k]) => k.startsWith('net.'));
    const out = await onHost(`sysctl ${netKeys.map(([k]) => k).join(' ')}`);
    const actual = Object.fromEntries(out.trim().split('\n').map((l) => l.split(' = ')));
    for (const [k, v] of netKeys) expect(`${k}=${actual[k]}`).toBe(`${k}=${v}`);
  });
});
