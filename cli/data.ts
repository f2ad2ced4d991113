// App-team commands: `encrypt` (offline, like the seed's envelope CLI, with our
// envelope), `tenant create`, `user create|get|list`, `keys rotate|shred`. Thin: parse,
// call client/, print JSON on stdout. Exit codes: 0 ok, 1 the operation was refused or
// failed (decrypt, not found, ...), 2 usage, configuration or connection error.
// stderr carries error names and codes only: no plaintext, keys or PINs.
import { readFileSync } from 'node:fs';
import { loadDeploymentOutputs, OutputsError } from '../client/deploymentOutputs';
import { ZtConnectionError } from '../client/dataApi';
import { ZtCryptoError } from '../client/errors';
import { KmsConfig, openKms, parsePkcs11KeyName } from '../client/kmsConfig';
import { encryptUserRecord } from '../client/recordCrypto';
import { ZtClient } from '../client/ztClient';
import { ParsedArgs, parseArgs, stringOption, UsageError } from './args';

export const DATA_USAGE = `ztmysql encrypt --tenant UUID --role ROLE (--name N --email E [--phone P] | --input FILE|-)
                  [--kms-key NAME] [--outputs FILE] [--pkcs11-module PATH] [--softhsm-conf PATH] [--pin-file PATH] [--user-id UUID]
  ztmysql tenant create --name NAME [--outputs FILE]
  ztmysql user create --tenant UUID --role ROLE (--name N --email E [--phone P] | --input FILE|-) [--outputs FILE] [--principal P]
  ztmysql user get --tenant UUID --id UUID [--outputs FILE] [--principal P]
  ztmysql user list --tenant UUID [--after UUID] [--limit N] [--outputs FILE] [--principal P]
  ztmysql keys rotate [--to-key-label LABEL] [--tenant UUID[,UUID...]] [--outputs FILE]
  ztmysql keys shred --tenant UUID --yes [--outputs FILE]
  (--outputs defaults to .ztmysql/lab/outputs.json; PKCS#11 PIN from kms.pinFile, --pin-file or $ZTMYSQL_PKCS11_PIN)`;

const DEFAULT_OUTPUTS = '.ztmysql/lab/outputs.json';
const COMMON = ['outputs', 'principal'];
const PII = ['name', 'email', 'phone', 'role', 'input'];

const CONFIG_CODES = new Set(['KEYWRAP_INVALID_INPUT', 'PKCS11_TOKEN_NOT_FOUND', 'PKCS11_LOGIN_FAILED', 'PKCS11_KEY_NOT_FOUND', 'PKCS11_KEY_POLICY', 'KMS_UNAVAILABLE']);

/** Print an error (name, code, message: never values) and pick the exit code. */
export function reportError(e: unknown): number {
  const err = e as Error & { code?: string };
  const usage = e instanceof UsageError || e instanceof OutputsError || e instanceof ZtConnectionError
    || (e instanceof ZtCryptoError && CONFIG_CODES.has(e.code));
  const code = err.code ? ` ${err.code}` : '';
  process.stderr.write(`ztmysql: ${err.name ?? 'Error'}${code}: ${err.message ?? 'failed'}\n`);
  return usage ? 2 : 1;
}

function required(a: ParsedArgs, name: string): string {
  const v = a.options[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`);
  return v;
}

/** PII from --input (JSON file or '-' for stdin, keeps it off the command line) or from flags. */
function userFields(a: ParsedArgs): { name: string; role: string; email: string; phone: string | null } {
  const input = a.options.input;
  let src: Record<string, unknown> = {};
  if (typeof input === 'string') {
    try {
      src = JSON.parse(readFileSync(input === '-' ? 0 : input, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--input ${input === '-' ? '(stdin)' : input} is not readable JSON`);
    }
  }
  const pick = (k: string): string | undefined => {
    const v = a.options[k] ?? src[k];
    return typeof v === 'string' ? v : undefined;
  };
  const name = pick('name');
  const email = pick('email');
  const role = pick('role');
  if (!name || !email || !role) throw new UsageError('name, email and role are required (flags or --input JSON)');
  return { name, email, role, phone: pick('phone') ?? null };
}

function outputsPath(a: ParsedArgs): string {
  return stringOption(a, 'outputs', DEFAULT_OUTPUTS);
}

async function withClient<T>(a: ParsedArgs, fn: (zt: ZtClient) => Promise<T>, extra: Parameters<typeof ZtClient.fromOutputs>[2] = {}): Promise<T> {
  const zt = await ZtClient.fromOutputs(outputsPath(a), stringOption(a, 'principal', 'app'), extra);
  try {
    return await fn(zt);
  } finally {
    await zt.close();
  }
}

function print(v: unknown): number {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  return 0;
}

async function encryptCommand(a: ParsedArgs): Promise<number> {
  const tenantId = required(a, 'tenant');
  const fields = userFields(a);
  let cfg: Partial<KmsConfig> = {};
  if (typeof a.options.outputs === 'string') {
    const o = loadDeploymentOutputs(a.options.outputs);
    if (o.kms) cfg = { ...(o.kms as KmsConfig) };
  }
  const keyName = stringOption(a, 'kms-key', cfg.keyName ?? '');
  if (!keyName) throw new UsageError('--kms-key (or --outputs with a kms section) is required');
  const pkcs11 = keyName.startsWith('pkcs11:');
  const labels = pkcs11 ? parsePkcs11KeyName(keyName) : undefined;
  const kms: KmsConfig = {
    ...cfg,
    provider: pkcs11 ? 'pkcs11' : 'gcp',
    keyName,
    tokenLabel: labels?.tokenLabel,
    keyLabel: labels?.keyLabel,
    module: stringOption(a, 'pkcs11-module', cfg.module ?? '') || undefined,
    confPath: stringOption(a, 'softhsm-conf', cfg.confPath ?? '') || undefined,
    pinFile: stringOption(a, 'pin-file', cfg.pinFile ?? '') || undefined,
  };
  const opened = await openKms(kms, { previousKeys: 'none' });
  try {
    const userId = typeof a.options['user-id'] === 'string' ? a.options['user-id'] : undefined;
    return print(await encryptUserRecord(opened.wrapper, tenantId, fields, userId));
  } finally {
    await opened.close();
  }
}

async function tenantCommand(sub: string | undefined, a: ParsedArgs): Promise<number> {
  if (sub !== 'create') throw new UsageError('tenant: expected create');
  const name = required(a, 'name');
  return withClient(a, async (zt) => print({ tenantId: await zt.tenants.create(name) }));
}

async function userCommand(sub: string | undefined, a: ParsedArgs): Promise<number> {
  const tenant = required(a, 'tenant');
  switch (sub) {
    case 'create': {
      const f = userFields(a);
      return withClient(a, async (zt) => print({ tenantId: tenant, userId: await zt.users.create(tenant, f) }));
    }
    case 'get': {
      const id = required(a, 'id');
      return withClient(a, async (zt) => print(await zt.users.get(tenant, id)));
    }
    case 'list': {
      const limit = typeof a.options.limit === 'string' ? Number(a.options.limit) : undefined;
      if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 100)) throw new UsageError('--limit must be 1..100');
      const after = typeof a.options.after === 'string' ? a.options.after : undefined;
      return withClient(a, async (zt) => print(await zt.users.list(tenant, { after, limit })));
    }
    default:
      throw new UsageError('user: expected create, get or list');
  }
}

async function keysCommand(sub: string | undefined, a: ParsedArgs): Promise<number> {
  switch (sub) {
    case 'rotate': {
      const tenants = typeof a.options.tenant === 'string' ? a.options.tenant.split(',').filter(Boolean) : undefined;
      const keyLabel = typeof a.options['to-key-label'] === 'string' ? a.options['to-key-label'] : undefined;
      return withClient(a, async (zt) => {
        const r = await zt.keys.rotate({ tenants });
        return print({ kmsKeyName: zt.kmsKeyName, tenants: r.tenants, rewrapped: r.rewrapped.length, alreadyCurrent: r.alreadyCurrent, conflicts: r.conflicts });
      }, { kmsOptions: { keyLabel } });
    }
    case 'shred': {
      const tenant = required(a, 'tenant');
      if (a.options.yes !== true) throw new UsageError('keys shred destroys the tenant\'s keys for good: add --yes');
      return withClient(a, async (zt) => print({ tenantId: tenant, ...(await zt.keys.shred(tenant)) }));
    }
    default:
      throw new UsageError('keys: expected rotate or shred');
  }
}

/** Entry for the dispatcher: `command` is encrypt | tenant | user | keys. */
export async function dataCommand(command: string, rest: string[]): Promise<number> {
  try {
    if (command === 'encrypt') {
      return await encryptCommand(parseArgs(rest, { flags: [], values: ['tenant', 'kms-key', 'outputs', 'pkcs11-module', 'softhsm-conf', 'pin-file', 'user-id', ...PII] }));
    }
    const [sub, ...args] = rest;
    if (command === 'tenant') return await tenantCommand(sub, parseArgs(args, { flags: [], values: [...COMMON, 'name'] }));
    if (command === 'user') return await userCommand(sub, parseArgs(args, { flags: [], values: [...COMMON, 'tenant', 'id', 'after', 'limit', ...PII] }));
    if (command === 'keys') return await keysCommand(sub, parseArgs(args, { flags: ['yes'], values: [...COMMON, 'tenant', 'to-key-label'] }));
    throw new UsageError(`unknown command ${command}`);
  } catch (e) {
    const code = reportError(e);
    if (e instanceof UsageError) process.stderr.write(`usage:\n  ${DATA_USAGE}\n`);
    return code;
  }
}
