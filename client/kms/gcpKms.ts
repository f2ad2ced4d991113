// Cloud KMS key wrapper. Every call carries CRC32C checksums and every response is
// checked (integrity both ways), the key must be HSM-protected, and transient gRPC
// failures are retried a bounded number of times with jittered exponential backoff.
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { KeyWrapError } from '../errors';
import { crc32c } from './crc32c';
import { assertWrappedBy, KeyDescription, KeyWrapper, ProtectionLevel, WrappedKey } from './keyWrapper';

// gRPC status codes worth retrying: the request may not have reached KMS or timed out.
const RETRYABLE = new Set<number>([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);
const CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 13: 'INTERNAL', 14: 'UNAVAILABLE', 16: 'UNAUTHENTICATED',
};
const KEY_NAME_RE = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

export interface GcpKmsWrapperOptions {
  /** projects/P/locations/L/keyRings/R/cryptoKeys/K */
  keyName: string;
  client: KeyManagementServiceClient;
  /** Total attempts per call including the first (default 4). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt deadline (default 10 s). */
  timeoutMs?: number;
}

type Int64Like = { value?: number | string | { toString(): string } | null } | null | undefined;

function int64(v: Int64Like): number | undefined {
  if (v === null || v === undefined || v.value === null || v.value === undefined) return undefined;
  return Number(String(v.value));
}

function level(v: unknown): ProtectionLevel {
  // The client decodes enums as strings; accept the numeric form too (HSM = 2).
  const byNum: Record<number, ProtectionLevel> = { 1: 'SOFTWARE', 2: 'HSM', 3: 'EXTERNAL', 4: 'EXTERNAL_VPC', 5: 'HSM_SINGLE_TENANT' };
  if (typeof v === 'number') return byNum[v] ?? 'UNKNOWN';
  if (typeof v === 'string' && ['HSM', 'SOFTWARE', 'EXTERNAL', 'EXTERNAL_VPC', 'HSM_SINGLE_TENANT'].includes(v)) return v as ProtectionLevel;
  return 'UNKNOWN';
}

function asBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length);
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return Buffer.alloc(0);
}

export class GcpKmsKeyWrapper implements KeyWrapper {
  readonly kind = 'gcp-kms' as const;
  readonly keyName: string;
  private readonly client: KeyManagementServiceClient;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private keyChecked = false;

  constructor(opts: GcpKmsWrapperOptions) {
    if (!KEY_NAME_RE.test(opts.keyName)) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'keyName must be a Cloud KMS CryptoKey resource name');
    this.keyName = opts.keyName;
    this.client = opts.client;
    this.maxAttempts = Math.max(1, Math.min(opts.maxAttempts ?? 4, 10));
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 2000;
    this.timeoutMs = opts.timeoutMs ?? 10000;
  }

  /** Run one RPC with our own bounded retry; gax's built-in retry is switched off so the bound is ours. */
  private async call<T>(op: string, fn: (callOpts: object) => Promise<T>): Promise<T> {
    const callOpts = { retry: { retryCodes: [] as number[] }, timeout: this.timeoutMs };
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(callOpts);
      } catch (err) {
        const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        const name = CODE_NAMES[code] ?? `code ${code}`;
        if (RETRYABLE.has(code) && attempt < this.maxAttempts) {
          const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
          await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
          continue;
        }
        if (RETRYABLE.has(code)) throw new KeyWrapError('KMS_UNAVAILABLE', `Cloud KMS ${op} failed after ${attempt} attempts (${name})`);
        const details = String((err as { details?: unknown }).details ?? '').slice(0, 200);
        if (code === 3 && /crc32c|checksum/i.test(details)) {
          throw new KeyWrapError('KMS_INTEGRITY', `Cloud KMS ${op} rejected the request checksum (INVALID_ARGUMENT): ${details}`);
        }
        throw new KeyWrapError('KMS_CALL_FAILED', `Cloud KMS ${op} failed (${name})${details ? `: ${details}` : ''}`);
      }
    }
  }

  private assertHsm(op: string, reported: unknown): void {
    const pl = level(reported);
    if (pl !== 'HSM') throw new KeyWrapError('KMS_PROTECTION_LEVEL', `Cloud KMS ${op}: key ${this.keyName} reports protection level ${pl}, HSM required`);
  }

  async describe(): Promise<KeyDescription> {
    const [key] = await this.call('GetCryptoKey', (o) => this.client.getCryptoKey({ name: this.keyName }, o));
    if (key.purpose !== 'ENCRYPT_DECRYPT') throw new KeyWrapError('KMS_KEY_STATE', `Cloud KMS key ${this.keyName} purpose is ${String(key.purpose)}, ENCRYPT_DECRYPT required`);
    const primary = key.primary;
    if (!primary?.name) throw new KeyWrapError('KMS_KEY_STATE', `Cloud KMS key ${this.keyName} has no primary version`);
    if (primary.state !== 'ENABLED') throw new KeyWrapError('KMS_KEY_STATE', `Cloud KMS primary version is ${String(primary.state)}`);
    return { protectionLevel: level(primary.protectionLevel ?? key.versionTemplate?.protectionLevel), keyVersion: primary.name };
  }

  /** Protection level of one version (e.g. the one a stored wrap names). */
  async describeVersion(versionName: string): Promise<{ protectionLevel: ProtectionLevel; state: string }> {
    const [v] = await this.call('GetCryptoKeyVersion', (o) => this.client.getCryptoKeyVersion({ name: versionName }, o));
    return { protectionLevel: level(v.protectionLevel), state: String(v.state) };
  }

  /** Refuse to wrap anything under a key that is not HSM-protected (checked once, then per response). */
  private async ensureHsmKey(): Promise<void> {
    if (this.keyChecked) return;
    const d = await this.describe();
    this.assertHsm('GetCryptoKey', d.protectionLevel);
    this.keyChecked = true;
  }

  async wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    if (!Buffer.isBuffer(dek) || dek.length === 0 || dek.length > 4096) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'DEK must be 1..4096 bytes');
    if (!Buffer.isBuffer(aad) || aad.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'AAD is required');
    await this.ensureHsmKey();
    const [resp] = await this.call('Encrypt', (o) =>
      this.client.encrypt(
        {
          name: this.keyName,
          plaintext: dek,
          additionalAuthenticatedData: aad,
          plaintextCrc32c: { value: crc32c(dek) },
          additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
        },
        o,
      ),
    );
    // Integrity, request direction: KMS must confirm it verified both checksums we sent.
    if (resp.verifiedPlaintextCrc32c !== true || resp.verifiedAdditionalAuthenticatedDataCrc32c !== true) {
      throw new KeyWrapError('KMS_INTEGRITY', 'Cloud KMS Encrypt did not verify the request checksums');
    }
    // Integrity, response direction: the ciphertext we got is the one KMS produced.
    const ct = asBuffer(resp.ciphertext);
    if (ct.length === 0 || int64(resp.ciphertextCrc32c) !== crc32c(ct)) {
      throw new KeyWrapError('KMS_INTEGRITY', 'Cloud KMS Encrypt response failed its CRC32C check');
    }
    this.assertHsm('Encrypt', resp.protectionLevel);
    const version = String(resp.name ?? '');
    if (!version.startsWith(`${this.keyName}/cryptoKeyVersions/`)) {
      throw new KeyWrapError('KMS_INTEGRITY', 'Cloud KMS Encrypt response names an unexpected key version');
    }
    return { kind: this.kind, keyName: this.keyName, keyVersion: version, payload: Buffer.from(ct) };
  }

  async unwrap(wrapped: WrappedKey, aad: Buffer): Promise<Buffer> {
    assertWrappedBy(this, wrapped);
    if (!Buffer.isBuffer(aad) || aad.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'AAD is required');
    const [resp] = await this.call('Decrypt', (o) =>
      this.client.decrypt(
        {
          name: this.keyName,
          ciphertext: wrapped.payload,
          additionalAuthenticatedData: aad,
          ciphertextCrc32c: { value: crc32c(wrapped.payload) },
          additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
        },
        o,
      ),
    );
    const pt = asBuffer(resp.plaintext);
    if (int64(resp.plaintextCrc32c) !== crc32c(pt)) {
      pt.fill(0);
      throw new KeyWrapError('KMS_INTEGRITY', 'Cloud KMS Decrypt response failed its CRC32C check');
    }
    if (level(resp.protectionLevel) !== 'HSM') {
      pt.fill(0);
      this.assertHsm('Decrypt', resp.protectionLevel);
    }
    return pt;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
