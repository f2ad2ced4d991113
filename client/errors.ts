// Error classes for the client crypto core. Messages name what failed and why,
// never key material, PINs or plaintext: callers log these verbatim.

export type EnvelopeErrorCode =
  | 'ENVELOPE_INVALID_INPUT'
  | 'ENVELOPE_MALFORMED'
  | 'ENVELOPE_UNSUPPORTED_VERSION'
  | 'ENVELOPE_UNSUPPORTED_ALGORITHM'
  | 'ENVELOPE_DEK_MISMATCH'
  | 'ENVELOPE_AAD_MISMATCH';

export type KeyWrapErrorCode =
  | 'KEYWRAP_INVALID_INPUT'
  | 'KEYWRAP_MALFORMED'
  | 'KEYWRAP_WRONG_WRAPPER'
  | 'KEYWRAP_AAD_MISMATCH'
  | 'KEYWRAP_INTEGRITY'
  | 'KMS_INTEGRITY'
  | 'KMS_PROTECTION_LEVEL'
  | 'KMS_KEY_STATE'
  | 'KMS_UNAVAILABLE'
  | 'KMS_CALL_FAILED'
  | 'PKCS11_LOGIN_FAILED'
  | 'PKCS11_TOKEN_NOT_FOUND'
  | 'PKCS11_KEY_NOT_FOUND'
  | 'PKCS11_KEY_POLICY'
  | 'PKCS11_FAILED'
  | 'HYBRID_KEM_MISMATCH'
  | 'HYBRID_UNWRAP_FAILED';

export type KeyringErrorCode = 'DEK_NOT_FOUND' | 'DEK_STORE_CONFLICT' | 'KEYRING_NO_WRAPPER' | 'KEYRING_INVALID_INPUT';

/** Base class so callers can catch every client crypto failure at once. */
export class ZtCryptoError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class EnvelopeError extends ZtCryptoError {
  declare readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string) {
    super(code, message);
  }
}

export class KeyWrapError extends ZtCryptoError {
  declare readonly code: KeyWrapErrorCode;
  constructor(code: KeyWrapErrorCode, message: string) {
    super(code, message);
  }
}

export class KeyringError extends ZtCryptoError {
  declare readonly code: KeyringErrorCode;
  constructor(code: KeyringErrorCode, message: string) {
    super(code, message);
  }
}
