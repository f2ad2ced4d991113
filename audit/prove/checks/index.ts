// The checks `ztmysql prove` runs, in report order.
import { Check } from '../check';
import { transportChecks } from './transport';
import { hostChecks, scanChecks } from './host';

export const allChecks: readonly Check[] = [...transportChecks, ...hostChecks, ...scanChecks];
