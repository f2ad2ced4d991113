// Validation of apply-time inputs: well-formed PEM, the expected subject, a key that
// matches its certificate, a password the server's STRONG policy will accept.
// Messages name the input and the problem, never the value.
import { X509Certificate, createPrivateKey } from 'node:crypto';

export type InputKind = 'certificate' | 'crl' | 'privateKey' | 'password';

interface InputLike {
  readonly kind: InputKind;
  readonly expectSubject?: string;
  readonly matchesCertificate?: string;
}

/** Characters a password may use: no quote, backslash, space or shell metacharacter. */
export const PASSWORD_ALPHABET = /^[A-Za-z0-9!#%+,.:=?@^_~-]{14,128}$/;
export const PASSWORD_SPECIALS = '!#%+,.:=?@^_~-';

export function validateInputValue(input: InputLike, value: string | undefined,
  all: Readonly<Record<string, string | undefined>>): string | undefined {
  if (value === undefined || value === null || value === '') return 'missing';
  if (typeof value !== 'string') return 'must be a string';
  switch (input.kind) {
    case 'certificate': {
      if (!value.includes('-----BEGIN CERTIFICATE-----')) return 'not a PEM certificate';
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(value);
      } catch {
        return 'PEM certificate does not parse';
      }
      if (input.expectSubject && cert.subject !== input.expectSubject) {
        return `certificate subject is ${JSON.stringify(cert.subject)}, expected ${JSON.stringify(input.expectSubject)}`;
      }
      if (Date.parse(cert.validTo) < Date.now()) return `certificate expired on ${cert.validTo}`;
      return undefined;
    }
    case 'crl':
      return /-----BEGIN X509 CRL-----[\s\S]+-----END X509 CRL-----/.test(value) ? undefined : 'not a PEM CRL';
    case 'privateKey': {
      let key;
      try {
        key = createPrivateKey(value);
      } catch {
        return 'private key does not parse';
      }
      if (input.matchesCertificate) {
        const certPem = all[input.matchesCertificate];
        try {
          if (certPem && !new X509Certificate(certPem).checkPrivateKey(key)) {
            return `private key does not match ${input.matchesCertificate}`;
          }
        } catch {
          return `cannot check the key against ${input.matchesCertificate}`;
        }
      }
      return undefined;
    }
    case 'password':
      if (!PASSWORD_ALPHABET.test(value)) return `password must be 14-128 characters of A-Z a-z 0-9 ${PASSWORD_SPECIALS}`;
      if (!/[A-Z]/.test(value) || !/[a-z]/.test(value) || !/[0-9]/.test(value) || !/[!#%+,.:=?@^_~-]/.test(value)) {
        return 'password needs upper and lower case letters, a digit and a special character (STRONG policy)';
      }
      return undefined;
  }
}
