// Each guardrail fires on a violating resource and stays silent on the compliant one.
// Compliant props are the ones the program registers (see the stack tests); each
// violating variant changes exactly one property.
import {
  TYPES, anchorSinkViolations, bucketViolations, externalIpViolations, firewallViolations, instanceViolations,
  kmsKeyViolations, stackViolations, allViolations,
} from '../../policy/policies';
import { anchorSinkFilter, matchesAnchorFilter } from '../../components/anchorFilter';

const key = { name: 'ztmysql-data', purpose: 'ENCRYPT_DECRYPT', rotationPeriod: '7776000s', versionTemplate: { algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', protectionLevel: 'HSM' } };
const bucket = { uniformBucketLevelAccess: true, publicAccessPrevention: 'enforced', versioning: { enabled: true }, retentionPolicy: { retentionPeriod: String(400 * 86400), isLocked: true } };
const fwMysql = { name: 'allow-mysql', direction: 'INGRESS', allows: [{ protocol: 'tcp', ports: ['3306'] }], sourceRanges: ['10.30.0.0/16'] };
const vm = {
  shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
  metadata: { 'enable-oslogin': 'TRUE', 'block-project-ssh-keys': 'TRUE', 'serial-port-enable': 'FALSE' },
  networkInterfaces: [{ accessConfigs: [] }],
};
const sink = { name: 'ztmysql-anchors', project: 'acme-prod-1', filter: anchorSinkFilter('acme-prod-1'), uniqueWriterIdentity: true, destination: 'storage.googleapis.com/b' };

describe('kms-key-hsm', () => {
  test('silent on the HSM symmetric key with rotation', () => expect(kmsKeyViolations(TYPES.cryptoKey, key)).toEqual([]));
  test('fires on SOFTWARE protection, on a missing template, and on no rotation', () => {
    expect(kmsKeyViolations(TYPES.cryptoKey, { ...key, versionTemplate: { ...key.versionTemplate, protectionLevel: 'SOFTWARE' } })).toEqual([expect.stringMatching(/must use protectionLevel HSM \(is "SOFTWARE"\)/)]);
    expect(kmsKeyViolations(TYPES.cryptoKey, { ...key, versionTemplate: undefined }).join()).toMatch(/protectionLevel HSM/);
    expect(kmsKeyViolations(TYPES.cryptoKey, { ...key, rotationPeriod: undefined })).toEqual(['symmetric KMS key must have a rotationPeriod']);
  });
  test('an HSM ML-KEM key needs no rotation', () => {
    expect(kmsKeyViolations(TYPES.cryptoKey, { purpose: 'KEY_ENCAPSULATION', versionTemplate: { algorithm: 'ML_KEM_768', protectionLevel: 'HSM' } })).toEqual([]);
  });
});

describe('worm-bucket', () => {
  test('silent on the locked, long, private bucket', () => expect(bucketViolations(TYPES.bucket, bucket)).toEqual([]));
  test('fires when public access prevention is not enforced or uniform access is off', () => {
    expect(bucketViolations(TYPES.bucket, { ...bucket, publicAccessPrevention: 'inherited' })).toEqual([expect.stringMatching(/publicAccessPrevention must be "enforced"/)]);
    expect(bucketViolations(TYPES.bucket, { ...bucket, uniformBucketLevelAccess: false })).toEqual([expect.stringMatching(/uniformBucketLevelAccess/)]);
  });
  test('fires when retention is unlocked, shortened below the minimum, or removed', () => {
    expect(bucketViolations(TYPES.bucket, { ...bucket, retentionPolicy: { ...bucket.retentionPolicy, isLocked: false } })).toEqual(['bucket retention policy must be locked (isLocked: true)']);
    expect(bucketViolations(TYPES.bucket, { ...bucket, retentionPolicy: { retentionPeriod: String(30 * 86400), isLocked: true } }, { requireLockedRetention: true, minimumRetentionDays: 365 }))
      .toEqual([expect.stringMatching(/shorter than the required minimum of 365 days/)]);
    expect(bucketViolations(TYPES.bucket, { ...bucket, retentionPolicy: undefined })).toEqual([expect.stringMatching(/no retention policy/)]);
  });
  test('the dev policy config allows an unlocked, short retention, but never public access', () => {
    const dev = { requireLockedRetention: false, minimumRetentionDays: 1 };
    expect(bucketViolations(TYPES.bucket, { ...bucket, retentionPolicy: { retentionPeriod: '604800', isLocked: false } }, dev)).toEqual([]);
    expect(bucketViolations(TYPES.bucket, { ...bucket, publicAccessPrevention: 'inherited' }, dev)).toHaveLength(1);
  });
});

describe('no-world-open-db-or-ssh', () => {
  test('silent on 3306 from the client range and on the deny-all rule', () => {
    expect(firewallViolations(TYPES.firewall, fwMysql)).toEqual([]);
    expect(firewallViolations(TYPES.firewall, { direction: 'INGRESS', denies: [{ protocol: 'all' }], sourceRanges: ['0.0.0.0/0'], priority: 65535 })).toEqual([]);
  });
  test('fires on 3306 or 22 from 0.0.0.0/0, through port ranges, protocol all, or no source at all', () => {
    expect(firewallViolations(TYPES.firewall, { ...fwMysql, sourceRanges: ['0.0.0.0/0'] })).toEqual([expect.stringMatching(/opens port 3306 to the whole internet/)]);
    expect(firewallViolations(TYPES.firewall, { allows: [{ protocol: 'tcp', ports: ['20-25'] }], sourceRanges: ['0.0.0.0/0'] })).toEqual([expect.stringMatching(/port 22/)]);
    expect(firewallViolations(TYPES.firewall, { allows: [{ protocol: 'all' }], sourceRanges: ['10.0.0.0/8', '0.0.0.0/0'] })).toHaveLength(2);
    expect(firewallViolations(TYPES.firewall, { allows: [{ protocol: 'tcp', ports: ['22'] }] })).toEqual([expect.stringMatching(/no source given/)]);
  });
  test('silent on 443 from anywhere and on egress rules', () => {
    expect(firewallViolations(TYPES.firewall, { allows: [{ protocol: 'tcp', ports: ['443'] }], sourceRanges: ['0.0.0.0/0'] })).toEqual([]);
    expect(firewallViolations(TYPES.firewall, { direction: 'EGRESS', allows: [{ protocol: 'tcp', ports: ['22'] }], destinationRanges: ['0.0.0.0/0'] })).toEqual([]);
  });
});

describe('hardened-vm', () => {
  test('silent on the hardened VM', () => expect(instanceViolations(TYPES.instance, vm)).toEqual([]));
  test('fires when any Shielded VM feature is off', () => {
    for (const f of ['enableSecureBoot', 'enableVtpm', 'enableIntegrityMonitoring']) {
      expect(instanceViolations(TYPES.instance, { ...vm, shieldedInstanceConfig: { ...vm.shieldedInstanceConfig, [f]: false } })).toEqual([`Shielded VM ${f} must be true`]);
    }
  });
  test('fires when the serial port is on or unset', () => {
    expect(instanceViolations(TYPES.instance, { ...vm, metadata: { ...vm.metadata, 'serial-port-enable': 'TRUE' } })).toEqual([expect.stringMatching(/serial-port-enable must be FALSE/)]);
    const noSerial: Record<string, string> = { ...vm.metadata };
    delete noSerial['serial-port-enable'];
    expect(instanceViolations(TYPES.instance, { ...vm, metadata: noSerial })).toHaveLength(1);
  });
  test('fires when OS Login is off, project SSH keys are not blocked, or ssh-keys are set', () => {
    expect(instanceViolations(TYPES.instance, { ...vm, metadata: { ...vm.metadata, 'enable-oslogin': 'FALSE' } })).toEqual(['metadata enable-oslogin must be TRUE']);
    expect(instanceViolations(TYPES.instance, { ...vm, metadata: { ...vm.metadata, 'block-project-ssh-keys': 'FALSE' } })).toEqual(['metadata block-project-ssh-keys must be TRUE']);
    expect(instanceViolations(TYPES.instance, { ...vm, metadata: { ...vm.metadata, 'ssh-keys': 'root:ssh-ed25519 AAAA' } })).toHaveLength(1);
  });
  test('advisory: an external IP is reported', () => {
    expect(externalIpViolations(TYPES.instance, vm)).toEqual([]);
    expect(externalIpViolations(TYPES.instance, { ...vm, networkInterfaces: [{ accessConfigs: [{}] }] })).toHaveLength(1);
  });
});

describe('anchor-sink', () => {
  test('silent on the canonical anchor sink', () => expect(anchorSinkViolations(TYPES.projectSink, sink)).toEqual([]));
  test('fires on a filter that no longer matches exactly the anchor lines', () => {
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, filter: 'logName:"ztmysql-anchor"' })).toEqual([expect.stringMatching(/does not match exactly the anchor lines/)]);
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, filter: `${sink.filter} AND severity>=ERROR` })).toHaveLength(1);
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, filter: anchorSinkFilter('other-project') })).toEqual([expect.stringMatching(/selects project other-project/)]);
  });
  test('fires when the sink is disabled, has exclusions or shares a writer identity', () => {
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, disabled: true })).toHaveLength(1);
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, exclusions: [{ name: 'x', filter: 'true' }] })).toHaveLength(1);
    expect(anchorSinkViolations(TYPES.projectSink, { ...sink, uniqueWriterIdentity: false })).toHaveLength(1);
  });
  test('stack: removing the anchor sink while the WORM bucket stays is a violation', () => {
    expect(stackViolations([{ type: TYPES.bucket, props: bucket }, { type: TYPES.projectSink, props: sink }])).toEqual([]);
    expect(stackViolations([{ type: TYPES.bucket, props: bucket }])).toHaveLength(1);
  });
  test('policies ignore resource types they do not govern', () => {
    expect(allViolations('gcp:compute/network:Network', { autoCreateSubnetworks: true })).toEqual([]);
  });
});

describe('the anchor filter selects exactly the anchor lines', () => {
  const p = 'acme-prod-1';
  const anchor = { logName: `projects/${p}/logs/ztmysql-anchor`, jsonPayload: { ztmysql_anchor_version: 1, tree_size: 10, root: 'ab' } };
  test('an anchor line matches', () => expect(matchesAnchorFilter(p, anchor)).toBe(true));
  test('other logs, other projects, text payloads and JSON without the version field do not', () => {
    expect(matchesAnchorFilter(p, { ...anchor, logName: `projects/${p}/logs/syslog` })).toBe(false);
    expect(matchesAnchorFilter(p, { ...anchor, logName: `projects/other-proj/logs/ztmysql-anchor` })).toBe(false);
    expect(matchesAnchorFilter(p, { logName: anchor.logName, textPayload: '{"ztmysql_anchor_version":1}' })).toBe(false);
    expect(matchesAnchorFilter(p, { logName: anchor.logName, jsonPayload: { tree_size: 10 } })).toBe(false);
    expect(matchesAnchorFilter(p, { logName: anchor.logName, jsonPayload: { ztmysql_anchor_version: null } })).toBe(false);
  });
});

test('the sink selects the log the host plan actually writes (same log id as the anchor record)', async () => {
  const { ANCHOR_LOG_ID: hostSide } = await import('../../audit/anchorRecord');
  const { ANCHOR_LOG_ID: sinkSide } = await import('../../components/anchorFilter');
  expect(sinkSide).toBe(hostSide);
});
