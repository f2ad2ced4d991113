// Tears the test lab down after the run, pass or fail. ZTMYSQL_KEEP_LAB=1 keeps it
// for debugging.
import { labDown } from '../../lab/lab';

export default async function globalTeardown(): Promise<void> {
  if (process.env.ZTMYSQL_KEEP_LAB === '1') return;
  await labDown(process.env.ZTMYSQL_TEST_LAB ?? 'test', { quiet: true });
}
