// The proof's vocabulary: the seed's control matrix (layer, control, standard) and
// one result per check, with what was run, what was expected and what was observed.

export type Layer = 'transport' | 'identity' | 'access' | 'tenant' | 'crypto' | 'audit' | 'anchor' | 'host' | 'proof' | 'scan';
export type CheckStatus = 'pass' | 'fail' | 'not-run';

export interface Control {
  readonly id: string;
  readonly layer: Layer;
  readonly title: string;
  readonly standard: string;
}

export interface CheckResult {
  readonly control: string;
  readonly check: string;
  readonly ran: string;
  readonly expected: string;
  readonly observed: string;
  readonly status: CheckStatus;
  readonly startedAt: string;
  readonly durationMs: number;
  /** Evidence files (relative to the bundle) this check wrote. */
  readonly evidence: readonly string[];
}

/** Thrown by a check that cannot run here (missing input, optional tool absent). */
export class NotRun extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotRun';
  }
}

export const CONTROLS: readonly Control[] = [
  { id: 'transport-tls13', layer: 'transport', title: 'TLS 1.3 only, strong suites, no plaintext transport', standard: 'RFC 8446' },
  { id: 'identity-mtls', layer: 'identity', title: 'Per-connection client certificate bound to each account; revoked certificates refused', standard: 'X.509 · mTLS' },
  { id: 'access-procedures', layer: 'access', title: 'Stored-procedure-only writes, tenant-scoped views, no SUPER/FILE/DDL for the app', standard: 'Least privilege' },
  { id: 'tenant-isolation', layer: 'tenant', title: 'Per-connection tenant context; cross-tenant access rejected', standard: 'Tenant isolation' },
  { id: 'crypto-envelope', layer: 'crypto', title: 'Client-side AES-256-GCM; DEKs wrapped by an HSM-backed KMS; no plaintext PII at rest', standard: 'NIST SP 800-38D' },
  { id: 'audit-chain', layer: 'audit', title: 'Append-only audit log with RFC 6962 Merkle checkpoints', standard: 'Tamper-evident' },
  { id: 'anchor-worm', layer: 'anchor', title: 'Checkpoint anchored every 60 s off-host to retention-locked storage', standard: 'Off-host anchor' },
  { id: 'host-hardening', layer: 'host', title: 'UFW default deny, fail2ban on SSH, hardened sshd, hardened MySQL variables', standard: 'CIS-aligned' },
  { id: 'proof-bundle', layer: 'proof', title: 'Evidence bundle with a manifest hashing every file', standard: 'Evidence pack' },
  { id: 'scan-openscap', layer: 'scan', title: 'OpenSCAP CIS / STIG scan of the host (optional)', standard: 'SCAP 1.3' },
];
