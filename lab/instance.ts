// Naming and addressing of one lab instance. Every instance lives in its own network
// namespace on 198.18.<index>.0/24 (RFC 2544 benchmarking range, never routed).
import { join, resolve } from 'node:path';

export interface LabInstance {
  readonly name: string;
  readonly index: number;
  readonly dir: string;
  readonly netns: string;
  readonly vethHost: string;
  readonly vethGuest: string;
  readonly hostAddress: string;
  readonly guestAddress: string;
  readonly prefix: number;
  readonly machine: string;
  readonly serverName: string;
}

const NAME = /^[a-z][a-z0-9]{0,7}$/;

export function projectRoot(): string {
  return process.env.ZTMYSQL_HOME ?? resolve(__dirname, '..');
}

export function labInstance(name = 'main'): LabInstance {
  if (!NAME.test(name)) throw new Error(`lab name ${JSON.stringify(name)} must be 1-8 lowercase letters/digits, starting with a letter`);
  // main is 198.18.0.0/24; other names hash to 198.18.1-250.0/24.
  const index = name === 'main' ? 0 : 1 + ([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 250);
  const dir = join(projectRoot(), '.ztmysql', name === 'main' ? 'lab' : `lab-${name}`);
  return {
    name, index, dir,
    netns: `ztmysql-${name}`,
    vethHost: `zt-${name}-h`,
    vethGuest: `zt-${name}-g`,
    hostAddress: `198.18.${index}.1`,
    guestAddress: `198.18.${index}.2`,
    prefix: 24,
    machine: `ztmysql-${name}`,
    serverName: `${name}.db.ztmysql.test`,
  };
}
