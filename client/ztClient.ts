// ZtClient: what app teams use. Deployment outputs -> mTLS pool(s), the configured KMS,
// a Keyring over the key vault procedures, and typed, encrypting calls per tenant.
//
//   const zt = await ZtClient.fromOutputs('.ztmysql/lab/outputs.json', 'app');
//   const id = await zt.users.create(tenant, { name, role: 'member', email, phone });
//   const user = await zt.users.get(tenant, id);   // decrypted
//   await zt.close();
//
// Every call takes a pooled connection, binds its tenant, runs, and clears it
// (TenantSessions). Encryption happens before a connection is taken and decryption
// after it is given back, so key-vault lookups never wait on the caller's own pool slot.
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { PoolOptions } from 'mysql2';
import { poolOptions } from './connection';
import * as api from './dataApi';
import { ZtApiError } from './dataApi';
import { DekCache, DekCacheOptions } from './dekCache';
import { DeploymentOutputs, loadDeploymentOutputs, OutputsError } from './deploymentOutputs';
import { encryptField, FieldContext } from './envelope';
import { ZtCryptoError } from './errors';
import { Keyring, RewrapResult } from './keyring';
import { KeyVaultDekStore } from './keyVaultStore';
import { KmsConfig, KmsOpenOptions, OpenedKms, openKms } from './kmsConfig';
import { KeyWrapper } from './kms/keyWrapper';
import { TenantSessions } from './tenantSession';

export const USERS_TABLE = 'users';
export const PII_COLUMNS = ['name_ct', 'email_ct', 'phone_ct'] as const;
export type PiiColumn = (typeof PII_COLUMNS)[number];

/** A field that did not decrypt: moved, altered, or its DEK shredded. Names the field, never its content. */
export class ZtDecryptError extends Error {
  constructor(
    readonly code: string,
    readonly userId: string,
    readonly column: string,
    message: string,
  ) {
    super(message);
    this.name = 'ZtDecryptError';
  }
}

export interface NewUser {
  readonly name: string;
  readonly role: string;
  readonly email: string;
  readonly phone?: string | null;
}

export interface User {
  readonly id: string;
  readonly tenantId: string;
  readonly role: string;
  readonly name: string;
  readonly email: string;
  readonly phone: string | null;
  readonly dekId: string;
  readonly createdAt: Date;
}

export interface ZtClientOptions {
  /** Principal for tenant-bound calls (default: the one passed to fromOutputs, else 'app'). */
  readonly principal?: string;
  /** Principal for tenant administration (default 'owner' when the outputs have it; null: none). */
  readonly adminPrincipal?: string | null;
  /** DEK cache limits (default: 5 minutes, 100,000 uses). */
  readonly cache?: DekCacheOptions;
  /** KMS: override the outputs' `kms`, and options for opening it. */
  readonly kms?: KmsConfig;
  readonly kmsOptions?: KmsOpenOptions;
  /** Inject wrappers instead of opening the configured KMS (tests, custom KMS). */
  readonly wrapper?: KeyWrapper;
  readonly previousWrappers?: KeyWrapper[];
  readonly pool?: Partial<PoolOptions>;
}

export const DEFAULT_CACHE: DekCacheOptions = { maxAgeMs: 300_000, maxUses: 100_000 };

export class ZtClient {
  readonly sessions: TenantSessions;
  readonly keyring: Keyring;
  readonly principal: string;
  readonly principalUser: string;
  /** The key new DEKs are wrapped with and rotation rewraps to. */
  readonly kmsKeyName: string;
  private readonly admin?: TenantSessions;
  private readonly kms?: OpenedKms;

  private constructor(
    readonly outputs: DeploymentOutputs,
    opts: ZtClientOptions,
    kms: OpenedKms | undefined,
    wrapper: KeyWrapper,
    previous: KeyWrapper[],
  ) {
    this.principal = opts.principal ?? 'app';
    const creds = outputs.principals[this.principal];
    if (!creds) throw new OutputsError(`deployment outputs have no principal ${JSON.stringify(this.principal)}`);
    this.principalUser = creds.user;
    this.kms = kms;
    this.kmsKeyName = wrapper.keyName;
    this.sessions = new TenantSessions(mysql.createPool(poolOptions(outputs, this.principal, opts.pool ?? {})));
    const adminName = opts.adminPrincipal === undefined ? (outputs.principals.owner ? 'owner' : null) : opts.adminPrincipal;
    if (adminName) {
      this.admin = new TenantSessions(mysql.createPool(poolOptions(outputs, adminName, { connectionLimit: 2 })));
    }
    const store = new KeyVaultDekStore(this.sessions, this.admin ? () => this.tenants.list().then((ts) => ts.map((t) => t.tenantId)) : undefined);
    this.keyring = new Keyring({ store, wrapper, previous, cache: new DekCache(opts.cache ?? DEFAULT_CACHE) });
  }

  /** Load outputs.json (must be 0600) and open the KMS it names. */
  static async fromOutputs(path: string, principal = 'app', opts: ZtClientOptions = {}): Promise<ZtClient> {
    return ZtClient.create(loadDeploymentOutputs(path), { ...opts, principal: opts.principal ?? principal });
  }

  static async create(outputs: DeploymentOutputs, opts: ZtClientOptions = {}): Promise<ZtClient> {
    if (opts.wrapper) return new ZtClient(outputs, opts, undefined, opts.wrapper, opts.previousWrappers ?? []);
    const cfg = opts.kms ?? (outputs.kms as KmsConfig | undefined);
    if (!cfg) throw new OutputsError('deployment outputs have no kms section (and no kms option was given)');
    const kms = await openKms(cfg, opts.kmsOptions);
    try {
      return new ZtClient(outputs, opts, kms, kms.wrapper, kms.previous);
    } catch (e) {
      await kms.close();
      throw e;
    }
  }

  /** Wrapper calls that reached the KMS/token since the client opened (undefined with injected wrappers). */
  get kmsCalls(): { wrap: number; unwrap: number } | undefined {
    return this.kms ? { ...this.kms.calls } : undefined;
  }

  // ------------------------------------------------------------ field crypto

  private ctx(tenantId: string, rowId: string, column: PiiColumn): FieldContext {
    return { tenantId, table: USERS_TABLE, column, rowId };
  }

  /** Encrypt a new user's PII under the tenant's active DEK (one cache use per record). */
  async encryptUser(tenantId: string, userId: string, u: NewUser): Promise<Omit<api.EncryptedUserInput, 'role'>> {
    const dekId = await this.keyring.activeDekId(tenantId);
    return this.keyring.withDek(tenantId, dekId, (key) => {
      const dek = { id: dekId, key };
      return {
        userId,
        dekId,
        nameCt: encryptField(dek, this.ctx(tenantId, userId, 'name_ct'), u.name),
        emailCt: encryptField(dek, this.ctx(tenantId, userId, 'email_ct'), u.email),
        phoneCt: u.phone == null ? null : encryptField(dek, this.ctx(tenantId, userId, 'phone_ct'), u.phone),
      };
    });
  }

  /** Decrypt a row read from the DB; a field that fails names the user and column. */
  async decryptUser(tenantId: string, row: api.EncryptedUserRow): Promise<User> {
    const fields: [PiiColumn, Buffer | null][] = [['name_ct', row.nameCt], ['email_ct', row.emailCt], ['phone_ct', row.phoneCt]];
    const out: Partial<Record<PiiColumn, string | null>> = {};
    for (const [column, blob] of fields) {
      if (blob === null) {
        out[column] = null;
        continue;
      }
      try {
        const pt = await this.keyring.decryptField(this.ctx(tenantId, row.userId, column), blob);
        out[column] = pt.toString('utf8');
        pt.fill(0);
      } catch (e) {
        if (e instanceof ZtCryptoError) {
          throw new ZtDecryptError(e.code, row.userId, column, `cannot decrypt ${USERS_TABLE}.${column} of user ${row.userId}: ${e.message}`);
        }
        throw e;
      }
    }
    return {
      id: row.userId, tenantId, role: row.role, name: out.name_ct as string, email: out.email_ct as string,
      phone: out.phone_ct ?? null, dekId: row.dekId, createdAt: row.createdAt,
    };
  }

  // ------------------------------------------------------------ API groups

  readonly tenants = {
    /** Create a tenant and allow this client's principal (needs the admin principal). */
    create: async (name: string, opts: { id?: string; principals?: string[] } = {}): Promise<string> => {
      const admin = this.requireAdmin();
      const id = opts.id ?? randomUUID();
      await admin.runUnbound(async (c) => {
        await api.adminCreateTenant(c, id, name);
        for (const p of opts.principals ?? [this.principalUser]) await api.adminAllowPrincipal(c, id, p);
      });
      return id;
    },
    /** Tenants this client's principal may act for (admin principal). */
    list: async (): Promise<{ tenantId: string; name: string }[]> =>
      this.requireAdmin().runUnbound((c) => api.adminListTenants(c, this.principalUser)),
  };

  readonly users = {
    /** Encrypt name/email/phone in the client and create the user; returns its id. */
    create: async (tenantId: string, u: NewUser, opts: { id?: string } = {}): Promise<string> => {
      api.requireUuid(tenantId, 'tenant id');
      const userId = opts.id ? api.requireUuid(opts.id, 'user id') : randomUUID();
      const enc = await this.encryptUser(tenantId, userId, u);
      await this.sessions.run(tenantId, (c) => api.createUserEncrypted(c, { ...enc, role: u.role }));
      return userId;
    },
    /** Read (a READ event is logged) and decrypt one user. */
    get: async (tenantId: string, userId: string): Promise<User> => {
      const row = await this.sessions.run(tenantId, (c) => api.getUserEncrypted(c, userId));
      return this.decryptUser(tenantId, row);
    },
    /** A decrypted page of users, id order. */
    list: async (tenantId: string, opts: { after?: string; limit?: number } = {}): Promise<User[]> => {
      const rows = await this.sessions.run(tenantId, (c) => api.listUsersEncrypted(c, { afterUserId: opts.after, limit: opts.limit }));
      const out: User[] = [];
      for (const r of rows) out.push(await this.decryptUser(tenantId, r));
      return out;
    },
    /** The encrypted row as stored (no decryption). */
    getEncrypted: (tenantId: string, userId: string): Promise<api.EncryptedUserRow> =>
      this.sessions.run(tenantId, (c) => api.getUserEncrypted(c, userId)),
    /** Ids and roles only (v_users; no PII, no READ event). */
    listIds: (tenantId: string): Promise<api.UserListingRow[]> => this.sessions.run(tenantId, (c) => api.listUserIds(c)),
  };

  readonly accounts = {
    open: async (tenantId: string, userId: string, currency: string, opts: { id?: string } = {}): Promise<string> => {
      const id = opts.id ?? randomUUID();
      await this.sessions.run(tenantId, (c) => api.openAccount(c, id, userId, currency));
      return id;
    },
    /** Credit an account; returns the transfer id. */
    deposit: async (tenantId: string, accountId: string, amount: string): Promise<string> => {
      const id = randomUUID();
      await this.sessions.run(tenantId, (c) => api.deposit(c, id, accountId, amount));
      return id;
    },
    list: (tenantId: string): Promise<api.AccountRow[]> => this.sessions.run(tenantId, (c) => api.listAccounts(c)),
  };

  readonly transfers = {
    create: async (tenantId: string, fromAccountId: string, toAccountId: string, amount: string): Promise<string> => {
      const id = randomUUID();
      await this.sessions.run(tenantId, (c) => api.transfer(c, id, fromAccountId, toAccountId, amount));
      return id;
    },
    list: (tenantId: string): Promise<api.TransferRow[]> => this.sessions.run(tenantId, (c) => api.listTransfers(c)),
  };

  readonly keys = {
    /** The tenant's active DEK id (created, wrapped and stored on first use). */
    active: (tenantId: string): Promise<string> => this.keyring.activeDekId(tenantId),
    /** A fresh DEK for new writes; older DEKs stay for reading. */
    newDek: (tenantId: string): Promise<string> => this.keyring.createDek(tenantId),
    /**
     * KEK rotation: rewrap every DEK of the given tenants (default: every tenant of this
     * principal, via the admin principal) under the current wrapper. Data is untouched.
     */
    rotate: async (opts: { tenants?: string[] } = {}): Promise<RewrapResult & { tenants: number }> => {
      const tenants = opts.tenants ?? (await this.tenants.list()).map((t) => t.tenantId);
      const total: RewrapResult = { rewrapped: [], alreadyCurrent: 0, conflicts: 0 };
      for (const t of tenants) {
        const r = await this.keyring.rewrap(t);
        total.rewrapped.push(...r.rewrapped);
        total.alreadyCurrent += r.alreadyCurrent;
        total.conflicts += r.conflicts;
      }
      return { ...total, tenants: tenants.length };
    },
    /**
     * Crypto-shredding: zeroise cached DEKs and delete the tenant's wrapped DEKs through
     * app_key_shred (each DELETE is an audit event). Its ciphertext becomes unreadable.
     */
    shred: (tenantId: string): Promise<{ evicted: number; deleted: number }> => this.keyring.shred(api.requireUuid(tenantId, 'tenant id')),
  };

  private requireAdmin(): TenantSessions {
    if (!this.admin) throw new ZtApiError('ZT_NO_ADMIN', 'this operation needs the admin (owner) principal, which this client was not given');
    return this.admin;
  }

  async close(): Promise<void> {
    this.keyring.cache.clear();
    await this.sessions.end();
    await this.admin?.end();
    await this.kms?.close();
  }
}

