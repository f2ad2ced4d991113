// What the main job prints after bringing the lab up: where the server is, what the
// app principal actually negotiated, and where the outputs are.
import mysql from 'mysql2/promise';
import { connectionOptions } from '../client/connection';
import { loadDeploymentOutputs } from '../client/deploymentOutputs';

export interface TlsSummary {
  readonly user: string;
  readonly tlsVersion: string;
  readonly cipher: string;
  readonly serverVersion: string;
}

export async function negotiatedTls(outputsPath: string, principal = 'app'): Promise<TlsSummary> {
  const outputs = loadDeploymentOutputs(outputsPath);
  // No default database: the app principal's grants come with the data-plane schema.
  const conn = await mysql.createConnection(connectionOptions(outputs, principal, { database: undefined }));
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT CURRENT_USER() AS user, VERSION() AS version, " +
      "(SELECT VARIABLE_VALUE FROM performance_schema.session_status WHERE VARIABLE_NAME='Ssl_version') AS tls, " +
      "(SELECT VARIABLE_VALUE FROM performance_schema.session_status WHERE VARIABLE_NAME='Ssl_cipher') AS cipher");
    const r = rows[0];
    return { user: r.user, tlsVersion: r.tls, cipher: r.cipher, serverVersion: r.version };
  } finally {
    await conn.end();
  }
}
