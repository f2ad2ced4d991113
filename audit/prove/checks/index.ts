// The checks `ztmysql prove` runs, in report order.
import { Check } from '../check';
import { transportChecks } from './transport';
import { hostChecks, scanChecks } from './host';
import { anchorChecks } from './anchor';
import { dataPlaneChecks } from './dataPlane';

export const allChecks: readonly Check[] = [...transportChecks, ...dataPlaneChecks, ...anchorChecks, ...hostChecks, ...scanChecks];
