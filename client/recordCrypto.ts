// Offline encryption of one user record (what `ztmysql encrypt` prints): a fresh DEK
// wrapped by the KMS for the tenant, and the PII fields as v1 envelopes bound to the
// tenant, the users table, their column and the user id. Nothing here touches the DB.
import { randomBytes, randomUUID } from 'node:crypto';
import { isUuid } from './encoding';
import { DEK_LENGTH, encryptField } from './envelope';
import { KeyringError } from './errors';
import { dekWrapAad, KeyWrapper, serializeWrappedKey } from './kms/keyWrapper';

export interface PlainUserRecord {
  readonly name: string;
  readonly role: string;
  readonly email: string;
  readonly phone?: string | null;
}

export interface EncryptedUserRecord {
  readonly format: 'ztmysql-envelope-v1';
  readonly tenantId: string;
  readonly userId: string;
  readonly role: string;
  readonly dek: { readonly id: string; readonly kmsKeyName: string; readonly keyVersion: string; readonly wrapped: string };
  /** base64 envelopes (docs/envelope-format.md), column -> blob. */
  readonly fields: { readonly name_ct: string; readonly email_ct: string; readonly phone_ct: string | null };
}

export async function encryptUserRecord(wrapper: KeyWrapper, tenantId: string, rec: PlainUserRecord, userId: string = randomUUID()): Promise<EncryptedUserRecord> {
  if (!isUuid(tenantId)) throw new KeyringError('KEYRING_INVALID_INPUT', 'tenant id must be a UUID');
  if (!isUuid(userId)) throw new KeyringError('KEYRING_INVALID_INPUT', 'user id must be a UUID');
  const dekId = randomUUID();
  const key = randomBytes(DEK_LENGTH);
  try {
    const wrapped = await wrapper.wrap(key, dekWrapAad(tenantId, dekId));
    const dek = { id: dekId, key };
    const ctx = (column: string) => ({ tenantId, table: 'users', column, rowId: userId });
    return {
      format: 'ztmysql-envelope-v1',
      tenantId,
      userId,
      role: rec.role,
      dek: { id: dekId, kmsKeyName: wrapped.keyName, keyVersion: wrapped.keyVersion, wrapped: serializeWrappedKey(wrapped).toString('base64') },
      fields: {
        name_ct: encryptField(dek, ctx('name_ct'), rec.name).toString('base64'),
        email_ct: encryptField(dek, ctx('email_ct'), rec.email).toString('base64'),
        phone_ct: rec.phone == null ? null : encryptField(dek, ctx('phone_ct'), rec.phone).toString('base64'),
      },
    };
  } finally {
    key.fill(0);
  }
}
