// mysql2 connection options for a principal: mutual TLS 1.3 against the deployment's
// CA, server identity checked, and no fallback to anything weaker.
import { connect } from 'node:net';
import type { ConnectionOptions, PoolOptions } from 'mysql2';
import { DeploymentOutputs, OutputsError } from './deploymentOutputs';

export const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export function connectionOptions(outputs: DeploymentOutputs, principal: string,
  extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const creds = outputs.principals[principal];
  if (!creds) throw new OutputsError(`deployment outputs have no principal ${JSON.stringify(principal)}`);
  // mysql2 checks the server certificate against `host`, so host is the certificate's
  // DNS name while the socket goes to the address (no DNS needed, none trusted).
  const address = outputs.host;
  const port = outputs.port;
  return {
    host: outputs.serverName,
    port,
    stream: () => connect({ host: address, port }),
    user: creds.user,
    password: creds.password,
    database: outputs.database,
    connectTimeout: 10000,
    multipleStatements: false,
    ...extra,
    ssl: {
      ca: outputs.caCertPem,
      cert: creds.certPem,
      key: creds.keyPem,
      minVersion: 'TLSv1.3',
      ciphers: TLS13_SUITES,
      rejectUnauthorized: true,
      verifyIdentity: true,
      ...(typeof extra.ssl === 'object' ? extra.ssl : {}),
    },
  };
}

export function poolOptions(outputs: DeploymentOutputs, principal: string, extra: Partial<PoolOptions> = {}): PoolOptions {
  return { ...connectionOptions(outputs, principal, extra), connectionLimit: 8, ...extra } as PoolOptions;
}
