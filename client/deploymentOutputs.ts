// The deployment outputs contract (DESIGN.md "Contracts"): what `pulumi up` exports
// and what the lab writes to .ztmysql/lab/outputs.json. Keys are stable; extend only.
import { readFileSync, statSync } from 'node:fs';

export interface PrincipalCredentials {
  readonly user: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Second factor next to the certificate (STRONG policy); secret. */
  readonly password: string;
}

export interface DeploymentOutputs {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly serverName: string;
  readonly caCertPem: string;
  readonly principals: Readonly<Record<string, PrincipalCredentials>> & {
    readonly app: PrincipalCredentials;
    readonly auditor: PrincipalCredentials;
  };
  readonly kms?: { readonly provider: 'gcp' | 'pkcs11'; readonly keyName: string; readonly [k: string]: unknown };
  readonly anchors?: { readonly source: string };
  readonly ssh?: { readonly host: string; readonly port: number; readonly user: string; readonly privateKeyPath: string; readonly hostKey?: string };
  readonly [extra: string]: unknown;
}

export class OutputsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputsError';
  }
}

/** Reads and checks an outputs file; refuses one that others can read (it holds keys). */
export function loadDeploymentOutputs(path: string): DeploymentOutputs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new OutputsError(`cannot read deployment outputs ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if ((statSync(path).mode & 0o077) !== 0) throw new OutputsError(`${path} holds private keys and must not be readable by group or others (chmod 600)`);
  let o: DeploymentOutputs;
  try {
    o = JSON.parse(text);
  } catch {
    throw new OutputsError(`${path} is not valid JSON`);
  }
  const missing = ['host', 'port', 'database', 'serverName', 'caCertPem', 'principals'].filter((k) => !(k in (o as object)));
  if (missing.length) throw new OutputsError(`${path} lacks ${missing.join(', ')}`);
  for (const p of ['app', 'auditor']) {
    const c = o.principals?.[p];
    if (!c?.user || !c.certPem || !c.keyPem) throw new OutputsError(`${path}: principal ${p} lacks user, certPem or keyPem`);
  }
  return o;
}
