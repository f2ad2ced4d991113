// The "ztmysql-guardrails" policy pack: every change that weakens a control fails
// `pulumi preview --policy-pack policy` in review. The rules are pure functions in
// policies.ts (tested directly); this file only registers them.
//
// Config (policy/config.<env>.json via --policy-pack-config): requireLockedRetention
// (default true) and minimumRetentionDays (default 365). Only dev relaxes the lock.
import * as gcp from '@pulumi/gcp';
import { PolicyPack, ReportViolation, ResourceValidationArgs, validateResourceOfType } from '@pulumi/policy';
import {
  DEFAULT_GUARDRAIL_CONFIG, GuardrailConfig, anchorSinkViolations, bucketViolations, externalIpViolations,
  firewallViolations, instanceViolations, kmsKeyViolations, stackViolations,
} from './policies';

const report = (messages: string[], reportViolation: ReportViolation): void => {
  for (const m of messages) reportViolation(m);
};

const retentionConfigSchema = {
  properties: {
    requireLockedRetention: { type: 'boolean' as const, default: DEFAULT_GUARDRAIL_CONFIG.requireLockedRetention },
    minimumRetentionDays: { type: 'integer' as const, minimum: 1, default: DEFAULT_GUARDRAIL_CONFIG.minimumRetentionDays },
  },
};

function guardrailConfig(args: ResourceValidationArgs): GuardrailConfig {
  return { ...DEFAULT_GUARDRAIL_CONFIG, ...args.getConfig<Partial<GuardrailConfig>>() };
}

new PolicyPack('ztmysql-guardrails', {
  enforcementLevel: 'mandatory',
  description: 'ztmysql: changes that weaken a zero-trust control fail review.',
  policies: [
    {
      name: 'kms-key-hsm',
      description: 'KMS keys are HSM-protected, name their algorithm and rotate.',
      validateResource: validateResourceOfType(gcp.kms.CryptoKey, (_k, args, v) => report(kmsKeyViolations(args.type, args.props), v)),
    },
    {
      name: 'worm-bucket',
      description: 'The anchor bucket prevents public access, uses uniform access and versioning, and keeps a locked retention policy no shorter than the minimum.',
      configSchema: retentionConfigSchema,
      validateResource: validateResourceOfType(gcp.storage.Bucket, (_b, args, v) => report(bucketViolations(args.type, args.props, guardrailConfig(args)), v)),
    },
    {
      name: 'no-world-open-db-or-ssh',
      description: 'No ingress rule opens 3306 or 22 to 0.0.0.0/0.',
      validateResource: validateResourceOfType(gcp.compute.Firewall, (_f, args, v) => report(firewallViolations(args.type, args.props), v)),
    },
    {
      name: 'hardened-vm',
      description: 'Shielded VM (secure boot, vTPM, integrity monitoring), serial port off, OS Login on, project SSH keys blocked.',
      validateResource: validateResourceOfType(gcp.compute.Instance, (_i, args, v) => report(instanceViolations(args.type, args.props), v)),
    },
    {
      name: 'vm-no-external-ip',
      description: 'The database VM has no external address.',
      enforcementLevel: 'advisory',
      validateResource: validateResourceOfType(gcp.compute.Instance, (_i, args, v) => report(externalIpViolations(args.type, args.props), v)),
    },
    {
      name: 'anchor-sink',
      description: 'The anchor sink exports exactly the anchor lines, is enabled, has no exclusions and its own writer identity.',
      validateResource: validateResourceOfType(gcp.logging.ProjectSink, (_s, args, v) => report(anchorSinkViolations(args.type, args.props), v)),
    },
    {
      name: 'anchor-sink-present',
      description: 'A stack with the WORM bucket keeps its anchor sink.',
      validateStack: (args, v) => report(stackViolations(args.resources.map((r) => ({ type: r.type, props: r.props }))), v),
    },
  ],
});
