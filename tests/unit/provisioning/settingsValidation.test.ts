// Bad settings are refused by the renderer with a message naming the value, before
// anything is rendered, let alone sent to a host.
import { renderPlan } from '../../../provisioning/plan';
import { SettingsError } from '../../../provisioning/settings';
import { parseCidr, mysqlHostPattern } from '../../../provisioning/cidr';
import { SETTINGS } from './fixtures';

function problemsOf(patch: Record<string, unknown>): string[] {
  try {
    renderPlan({ ...SETTINGS, ...patch } as never);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return [...(e as SettingsError).problems];
  }
  throw new Error('settings were accepted');
}

describe('settings validation', () => {
  test('the fixture settings are valid and render the steps in order', () => {
    expect(renderPlan(SETTINGS).steps.map((s) => s.id)).toEqual(['packages', 'host-hardening', 'pki', 'mysql-config', 'accounts', 'dataplane', 'anchor']);
  });

  test.each([
    ['10.0.0.0/33', /prefix length must be 0..32/],
    ['10.0.0.1/24', /host bits set; did you mean 10\.0\.0\.0\/24/],
    ['256.1.1.1/32', /is not an IPv4 address/],
    ['10.0.0.0', /is not an IPv4 CIDR range/],
    ['fd00::/8', /IPv6 ranges are not supported/],
    ['010.0.0.0/8', /is not an IPv4 address/],
    ["10.0.0.0/8'; rm -rf /", /is not an IPv4 CIDR range/],
  ])('client range %p is refused', (range, message) => {
    expect(problemsOf({ clientRanges: [range] }).join('\n')).toMatch(message);
  });

  test('0.0.0.0/0 is refused for both SSH and MySQL', () => {
    const problems = problemsOf({ clientRanges: ['0.0.0.0/0'], deployRanges: ['0.0.0.0/0'] });
    expect(problems.filter((p) => /whole internet/.test(p))).toHaveLength(2);
  });

  test('empty range lists are refused', () => {
    expect(problemsOf({ clientRanges: [] })).toContain('clientRanges must list at least one CIDR range');
  });

  test.each([
    ["app'x", /no quotes or spaces/],
    ['app user', /no quotes or spaces/],
    ['App', /starting with a letter/],
    ['a'.repeat(33), /1-32 characters/],
    ['root', /is reserved/],
    ['', /must be 1-32/],
  ])('principal name %p is refused', (name, message) => {
    const principals = [...SETTINGS.principals, { name, role: 'app' }];
    expect(problemsOf({ principals }).join('\n')).toMatch(message);
  });

  test('principals must cover owner, app and auditor, with unique names and one owner', () => {
    expect(problemsOf({ principals: [{ name: 'app', role: 'app' }] })).toEqual(expect.arrayContaining([
      'principals must include one with role "owner"', 'principals must include one with role "auditor"',
    ]));
    const dup = problemsOf({ principals: [...SETTINGS.principals, { name: 'app', role: 'app' }] });
    expect(dup).toContain('principal name "app" is listed twice');
    const owners = problemsOf({ principals: [...SETTINGS.principals, { name: 'owner2', role: 'owner' }] });
    expect(owners).toContain('only one principal may have role "owner"');
    expect(problemsOf({ principals: [...SETTINGS.principals, { name: 'ops', role: 'superuser' }] }).join()).toMatch(/unknown role "superuser"/);
  });

  test('every problem is reported at once', () => {
    const problems = problemsOf({ hostAddress: 'db.local', serverName: 'Not A Name', mysqlPort: 33060, deployUser: 'root', clientRanges: ['x'] });
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  test('CIDR helpers: host patterns for MySQL accounts', () => {
    expect(mysqlHostPattern(parseCidr('198.18.0.1/32'))).toBe('198.18.0.1');
    expect(mysqlHostPattern(parseCidr('198.18.0.0/24'))).toBe('198.18.0.0/24');
  });
});
