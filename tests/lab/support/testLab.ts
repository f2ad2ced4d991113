// The lab instance the lab tests run against: brought up (and provisioned) once by
// globalSetup, shared by every lab test file, torn down by globalTeardown.
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../../client/connection';
import { DeploymentOutputs, loadDeploymentOutputs } from '../../../client/deploymentOutputs';
import { labContext, LabContext } from '../../../lab/lab';
import { sshExec } from '../../../audit/ssh';
import { shq } from '../../../provisioning/shell';

export const TEST_LAB_NAME = process.env.ZTMYSQL_TEST_LAB ?? 'test';

export function testLab(): LabContext {
  return labContext(TEST_LAB_NAME);
}

export function testOutputs(): DeploymentOutputs {
  return loadDeploymentOutputs(testLab().outputsPath);
}

/** An mTLS connection as a principal; extra options override the defaults. */
export async function connectAs(principal: string, extra: Partial<mysql.ConnectionOptions> = {}): Promise<mysql.Connection> {
  return mysql.createConnection(connectionOptions(testOutputs(), principal, extra));
}

/** Runs a bash script as root on the test host; returns stdout, throws on failure. */
export async function onHost(script: string, stdin?: string): Promise<string> {
  const r = await sshExec(testLab().target, `sudo -n -- /bin/bash -c ${shq(script)}`, stdin);
  if (r.code !== 0) throw new Error(`on test host (exit ${r.code}): ${script.slice(0, 160)}\n${r.stderr.trim()}`);
  return r.stdout;
}

/** Root SQL over the host's local socket (as the provisioning does); tab-separated rows. */
export async function rootSql(sql: string): Promise<string[][]> {
  const out = await onHost('mysql --no-defaults --protocol=socket -uroot --batch --skip-column-names', sql);
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

/** Asserts that a promise rejects with a MySQL error carrying one of the SQLSTATEs / codes. */
export async function expectSqlError(p: Promise<unknown>, expected: { code?: string | string[]; sqlState?: string | string[] }): Promise<mysql.QueryError> {
  let err: mysql.QueryError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as mysql.QueryError;
  }
  if (!err) throw new Error(`expected a MySQL error ${JSON.stringify(expected)}, but the statement succeeded`);
  const codes = ([] as string[]).concat(expected.code ?? []);
  const states = ([] as string[]).concat(expected.sqlState ?? []);
  if (codes.length && !codes.includes(err.code)) throw new Error(`expected error code ${codes.join('|')}, got ${err.code}: ${err.message}`);
  if (states.length && !states.includes(err.sqlState ?? '')) throw new Error(`expected SQLSTATE ${states.join('|')}, got ${err.sqlState}: ${err.message}`);
  return err;
}
