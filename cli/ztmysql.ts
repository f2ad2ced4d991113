#!/usr/bin/env -S npx tsx
// ztmysql: commands for auditors, operators and app teams. Exit codes: 0 all hold,
// 1 a control or the log fails, 2 usage or connection error.
import { parseArgs, UsageError } from './args';
import { proveCommand, PROVE_USAGE } from './prove';
import { dataCommand, DATA_USAGE } from './data';
import { verifyCommand, VERIFY_USAGE } from './verify';

const USAGE = `usage:
  ${VERIFY_USAGE}
  ${PROVE_USAGE}
  ${DATA_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'prove':
      return proveCommand(parseArgs(rest, { flags: ['json'], values: ['outputs', 'bundle'] }));
    case 'verify':
      return verifyCommand(rest);
    case 'encrypt':
    case 'tenant':
    case 'user':
    case 'keys':
      return dataCommand(command, rest);
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return command ? 0 : 2;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
  console.error(`ztmysql: ${e.message}${e instanceof UsageError ? `\n${USAGE}` : ''}`);
  process.exitCode = 2;
});
