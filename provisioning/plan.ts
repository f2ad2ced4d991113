// The host plan: typed settings in, ordered idempotent steps out. Pure: the Pulumi
// HostProvisioning component and the lab runner both consume exactly this.
import { ProvisioningSettings, ValidSettings, validateSettings } from './settings';
import { Step, validateStepInputs } from './step';
import { packagesStep } from './steps/packages';
import { hostHardeningStep } from './steps/hostHardening';
import { pkiStep } from './steps/pki';
import { mysqlConfigStep } from './steps/mysqlConfig';
import { accountsStep } from './steps/accounts';
import { dataplaneStep } from './steps/dataplane';
import { anchorStep } from './steps/anchor';

export interface HostPlan {
  readonly settings: ValidSettings;
  readonly steps: readonly Step[];
}

export function renderPlan(settings: ProvisioningSettings): HostPlan {
  const s = validateSettings(settings);
  const steps = [packagesStep(s), hostHardeningStep(s), pkiStep(s), mysqlConfigStep(s), accountsStep(s), dataplaneStep(s), anchorStep(s, s.anchorForward)];
  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) throw new Error(`duplicate step id ${step.id}`);
    ids.add(step.id);
  }
  return { settings: s, steps };
}

/** Every input name the plan needs at apply time, with whether it is secret. */
export function planInputs(plan: HostPlan): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const step of plan.steps) for (const i of step.inputs) out.set(i.name, (out.get(i.name) ?? false) || i.secret);
  return out;
}

/** Validates all inputs of all steps up front, so a bad one fails before the first step runs. */
export function validatePlanInputs(plan: HostPlan, values: Readonly<Record<string, string | undefined>>): void {
  for (const step of plan.steps) validateStepInputs(step, values);
}
