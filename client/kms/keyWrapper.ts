// One interface for every way of wrapping a DEK (Cloud KMS, PKCS#11, ML-KEM hybrid),
// plus the compact blob stored in the key vault table. Layout: docs/key-wrapping.md.
import { KeyWrapError } from '../errors';
import { isUuid, lengthPrefixed, uuidToBytes } from '../encoding';

export type WrapperKind = 'gcp-kms' | 'pkcs11' | 'hybrid-mlkem768';
const KIND_IDS: Record<WrapperKind, number> = { 'gcp-kms': 1, pkcs11: 2, 'hybrid-mlkem768': 3 };

export type ProtectionLevel = 'HSM' | 'SOFTWARE' | 'EXTERNAL' | 'EXTERNAL_VPC' | 'HSM_SINGLE_TENANT' | 'UNKNOWN';

/** A DEK as wrapped by one wrapper; `payload` is opaque to everyone but that wrapper. */
export interface WrappedKey {
  readonly kind: WrapperKind;
  /** Stable name of the wrapping key (Cloud KMS CryptoKey, PKCS#11 URI, ...). */
  readonly keyName: string;
  /** The key version that produced `payload`; rotation rewraps until all match the primary. */
  readonly keyVersion: string;
  readonly payload: Buffer;
}

export interface KeyDescription {
  readonly protectionLevel: ProtectionLevel;
  /** Version new wraps will use. */
  readonly keyVersion: string;
}

export interface KeyWrapper {
  readonly kind: WrapperKind;
  readonly keyName: string;
  /** Wrap a DEK; `aad` must be presented again, byte for byte, to unwrap. */
  wrap(dek: Buffer, aad: Buffer): Promise<WrappedKey>;
  /** Unwrap; throws KeyWrapError on wrong AAD, tampering or the wrong wrapper. Caller owns (and zeroises) the result. */
  unwrap(wrapped: WrappedKey, aad: Buffer): Promise<Buffer>;
  /** Protection level and current primary version of the wrapping key. */
  describe(): Promise<KeyDescription>;
  /** Release sessions/channels. */
  close(): Promise<void>;
}

const WRAPPED_MAGIC = Buffer.from('ZW', 'ascii');
const WRAPPED_VERSION = 0x01;
const WRAP_AAD_LABEL = Buffer.from('ztmysql/dek-wrap/aad/v1', 'ascii');
export const MAX_NAME_BYTES = 1024;
export const MAX_PAYLOAD_BYTES = 16384;

/** AAD for wrapping a tenant's DEK: binds tenant UUID and DEK UUID, length-prefixed. */
export function dekWrapAad(tenantId: string, dekId: string): Buffer {
  if (!isUuid(tenantId)) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'tenant id must be a UUID');
  if (!isUuid(dekId)) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'DEK id must be a UUID');
  return lengthPrefixed([WRAP_AAD_LABEL, uuidToBytes(tenantId), uuidToBytes(dekId)]);
}

/**
 * 'ZW' | 0x01 | kind u8 | u16 nameLen | name | u16 versionLen | version | u32 payloadLen | payload.
 */
export function serializeWrappedKey(w: WrappedKey): Buffer {
  const kindId = KIND_IDS[w.kind];
  if (!kindId) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'unknown wrapper kind');
  const name = Buffer.from(w.keyName, 'utf8');
  const ver = Buffer.from(w.keyVersion, 'utf8');
  if (name.length === 0 || name.length > MAX_NAME_BYTES || ver.length > MAX_NAME_BYTES) {
    throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'key name/version length out of range');
  }
  if (w.payload.length === 0 || w.payload.length > MAX_PAYLOAD_BYTES) throw new KeyWrapError('KEYWRAP_INVALID_INPUT', 'payload length out of range');
  const head = Buffer.alloc(4);
  WRAPPED_MAGIC.copy(head, 0);
  head[2] = WRAPPED_VERSION;
  head[3] = kindId;
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n, 0);
    return b;
  };
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(w.payload.length, 0);
  return Buffer.concat([head, u16(name.length), name, u16(ver.length), ver, u32, w.payload]);
}

export function parseWrappedKey(blob: Buffer): WrappedKey {
  const bad = (why: string): never => {
    throw new KeyWrapError('KEYWRAP_MALFORMED', `wrapped key blob is malformed: ${why}`);
  };
  if (!Buffer.isBuffer(blob) || blob.length < 4 + 2 + 2 + 4) bad('too short');
  if (!blob.subarray(0, 2).equals(WRAPPED_MAGIC)) bad('bad magic');
  if (blob[2] !== WRAPPED_VERSION) bad(`unsupported version ${blob[2]}`);
  const kind = (Object.keys(KIND_IDS) as WrapperKind[]).find((k) => KIND_IDS[k] === blob[3]);
  if (!kind) bad(`unknown kind ${blob[3]}`);
  let off = 4;
  const take = (n: number): Buffer => {
    if (off + n > blob.length) bad('truncated');
    const b = blob.subarray(off, off + n);
    off += n;
    return b;
  };
  const nameLen = take(2).readUInt16BE(0);
  const keyName = take(nameLen).toString('utf8');
  const verLen = take(2).readUInt16BE(0);
  const keyVersion = take(verLen).toString('utf8');
  const payloadLen = take(4).readUInt32BE(0);
  if (payloadLen === 0 || payloadLen > MAX_PAYLOAD_BYTES) bad('payload length out of range');
  const payload = Buffer.from(take(payloadLen));
  if (off !== blob.length) bad('trailing bytes');
  if (keyName.length === 0) bad('empty key name');
  return { kind: kind as WrapperKind, keyName, keyVersion, payload };
}

/** Refuse a WrappedKey meant for another wrapper (clear error instead of a crypto failure). */
export function assertWrappedBy(wrapper: KeyWrapper, w: WrappedKey): void {
  if (w.kind !== wrapper.kind || w.keyName !== wrapper.keyName) {
    throw new KeyWrapError('KEYWRAP_WRONG_WRAPPER', `wrapped key belongs to ${w.kind}:${w.keyName}, not ${wrapper.kind}:${wrapper.keyName}`);
  }
}
