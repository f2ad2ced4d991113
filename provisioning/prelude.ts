// The bash prelude lives in prelude.sh so it can be read and linted as shell.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const STEP_PRELUDE: string = readFileSync(join(__dirname, 'prelude.sh'), 'utf8');
