// Brings the test lab up once for all lab test files (reusing it if it is already up).
import { labUp } from '../../lab/lab';

export default async function globalSetup(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('lab tests need root: run them as root (the README test command does)');
  const name = process.env.ZTMYSQL_TEST_LAB ?? 'test';
  process.stderr.write(`\nlab tests: bringing up lab instance "${name}"\n`);
  await labUp(name, { quiet: process.env.ZTMYSQL_LAB_VERBOSE !== '1' });
}
