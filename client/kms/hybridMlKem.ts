// Optional post-quantum hybrid wrap: ML-KEM-768 (FIPS 203) alongside a classical
// KMS/HSM wrap. The key that seals the DEK is derived with HKDF-SHA-256 from BOTH a
// KMS-wrapped random secret and the ML-KEM shared secret, together with the KEM
// ciphertext, the recipient public key hash, a label and the caller's AAD. Recovering
// the DEK needs both secrets. Threat model: docs/key-wrapping.md.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem';
import { KeyWrapError } from '../errors';
import { lengthPrefixed, parseLengthPrefixed } from '../encoding';
import { KeyDescription, KeyWrapper, parseWrappedKey, serializeWrappedKey, WrappedKey } from './keyWrapper';

export const HYBRID_LABEL = Buffer.from('ztmysql/hybrid/mlkem768+kms/v1', 'ascii');
const INNER_AAD_LABEL = Buffer.from('ztmysql/hybrid/inner-aad/v1', 'ascii');
const SEAL_AAD_LABEL = Buffer.from('ztmysql/hybrid/seal-aad/v1', 'ascii');
const PAYLOAD_VERSION = 0x01;
export const MLKEM768_CIPHERTEXT_BYTES = 1088;
export const MLKEM768_PUBLIC_KEY_BYTES = 1184;

export interface MlKemRecipient {
  readonly publicKey: Uint8Array;
  /** Needed only to unwrap. Keep it away from the database and its backups. */
  readonly secretKey?: Uint8Array;
}

/** ML-KEM-768 key pair; `seed` (64 bytes = d || z, FIPS 203 KeyGen_internal) makes it deterministic. */
export function generateMlKemRecipient(seed?: Uint8Array): Required<MlKemRecipient> {
  if (seed !== undefined && seed.length !== 64) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'ML-KEM seed must be 64 bytes');
  const kp = ml_kem768.keygen(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function publicKeyHash(publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(publicKey).digest();
}

export interface HybridKdfInput {
  classicalSecret: Uint8Array;
  kemSharedSecret: Uint8Array;
  kemCiphertext: Uint8Array;
  recipientPublicKeyHash: Uint8Array;
  aad: Uint8Array;
}

/**
 * KEK = HKDF-SHA-256(salt = label,
 *                    ikm  = LP(classicalSecret, kemSharedSecret, kemCiphertext, pkHash),
 *                    info = LP(label, aad), L = 32).
 * Concatenation inside the extractor (never XOR), so the output stays secret while
 * either input secret does, and is bound to this exact KEM ciphertext and recipient.
 */
export function deriveHybridKek(i: HybridKdfInput): Buffer {
  const ikm = lengthPrefixed([i.classicalSecret, i.kemSharedSecret, i.kemCiphertext, i.recipientPublicKeyHash]);
  try {
    return Buffer.from(hkdfSync('sha256', ikm, HYBRID_LABEL, lengthPrefixed([HYBRID_LABEL, i.aad]), 32));
  } finally {
    ikm.fill(0);
  }
}

export interface HybridPayload {
  inner: WrappedKey;
  kemCiphertext: Buffer;
  recipientPublicKeyHash: Buffer;
  nonce: Buffer;
  sealed: Buffer;
}

export function parseHybridPayload(payload: Buffer): HybridPayload {
  const parts = payload[0] === PAYLOAD_VERSION ? parseLengthPrefixed(payload.subarray(1), 5) : undefined;
  if (!parts || parts[1].length !== MLKEM768_CIPHERTEXT_BYTES || parts[2].length !== 32 || parts[3].length !== 12 || parts[4].length < 17) {
    throw new KeyWrapError('KEYWRAP_MALFORMED', 'hybrid wrapped key payload is malformed');
  }
  return { inner: parseWrappedKey(parts[0]), kemCiphertext: parts[1], recipientPublicKeyHash: parts[2], nonce: parts[3], sealed: parts[4] };
}

/** Open the sealed DEK with a derived KEK; exported so tests can show one secret is not enough. */
export function openSealedDek(kek: Buffer, p: HybridPayload, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', kek, p.nonce);
  d.setAAD(lengthPrefixed([SEAL_AAD_LABEL, aad]));
  d.setAuthTag(p.sealed.subarray(p.sealed.length - 16));
  const out = d.update(p.sealed.subarray(0, p.sealed.length - 16));
  try {
    return Buffer.concat([out, d.final()]);
  } catch {
    out.fill(0);
    throw new KeyWrapError('HYBRID_UNWRAP_FAILED', 'hybrid unwrap failed: KEM or KMS secret wrong, AAD mismatch, or payload altered');
  }
}

/** AAD for the inner (classical) wrap: domain-separated from direct DEK wraps. */
export const hybridInnerAad = (aad: Buffer) => lengthPrefixed([INNER_AAD_LABEL, aad]);

export class HybridMlKemWrapper implements KeyWrapper {
  readonly kind = 'hybrid-mlkem768' as const;
  readonly keyName: string;
  private readonly pkHash: Buffer;

  constructor(
    private readonly inner: KeyWrapper,
    private readonly recipient: MlKemRecipient,
  ) {
    if (recipient.publicKey.length !== MLKEM768_PUBLIC_KEY_BYTES) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'not an ML-KEM-768 public key');
    this.pkHash = publicKeyHash(recipient.publicKey);
    this.keyName = `${inner.keyName}+mlkem768:${this.pkHash.subarray(0, 8).toString('hex')}`;
  }

  describe(): Promise<KeyDescription> {
    return this.inner.describe();
  }

  async wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey> {
    if (!Buffer.isBuffer(aad) || aad.length === 0) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'AAD is required');
    const classical = randomBytes(32);
    let kek: Buffer | undefined;
    let ss: Uint8Array | undefined;
    try {
      const inner = await this.inner.wrap(classical, hybridInnerAad(aad));
      const enc = ml_kem768.encapsulate(this.recipient.publicKey);
      ss = enc.sharedSecret;
      kek = deriveHybridKek({ classicalSecret: classical, kemSharedSecret: ss, kemCiphertext: enc.cipherText, recipientPublicKeyHash: this.pkHash, aad });
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', kek, nonce);
      c.setAAD(lengthPrefixed([SEAL_AAD_LABEL, aad]));
      const sealed = Buffer.concat([c.update(dek), c.final(), c.getAuthTag()]);
      const payload = Buffer.concat([
        Buffer.from([PAYLOAD_VERSION]),
        lengthPrefixed([serializeWrappedKey(inner), enc.cipherText, this.pkHash, nonce, sealed]),
      ]);
      return { kind: this.kind, keyName: this.keyName, keyVersion: inner.keyVersion, payload };
    } finally {
      classical.fill(0);
      kek?.fill(0);
      ss?.fill(0);
    }
  }

  async unwrap(wrapped: WrappedKey, aad: Buffer): Promise<Buffer> {
    if (wrapped.kind !== this.kind || wrapped.keyName !== this.keyName) {
      throw new KeyWrapError('KEYWRAP_WRONG_WRAPPER', `wrapped key belongs to ${wrapped.kind}:${wrapped.keyName}, not ${this.kind}:${this.keyName}`);
    }
    if (!this.recipient.secretKey) throw new KeyWrapError('HYBRID_KEM_MISMATCH', 'no ML-KEM secret key configured for unwrap');
    const p = parseHybridPayload(wrapped.payload);
    if (!p.recipientPublicKeyHash.equals(this.pkHash)) throw new KeyWrapError('HYBRID_KEM_MISMATCH', 'wrapped for a different ML-KEM recipient key');
    const classical = await this.inner.unwrap(p.inner, hybridInnerAad(aad));
    // ML-KEM decapsulation never fails: a wrong key yields an unrelated secret (implicit rejection),
    // which then fails the AEAD check below.
    const ss = ml_kem768.decapsulate(p.kemCiphertext, this.recipient.secretKey);
    const kek = deriveHybridKek({ classicalSecret: classical, kemSharedSecret: ss, kemCiphertext: p.kemCiphertext, recipientPublicKeyHash: this.pkHash, aad });
    try {
      return openSealedDek(kek, p, aad);
    } finally {
      classical.fill(0);
      ss.fill(0);
      kek.fill(0);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
