// Applies a host plan over SSH, step by step, with progress per step. It sends the
// very strings the Pulumi component sends: renderCommand(step) and renderStdin(step).
import { HostPlan, validatePlanInputs } from '../provisioning/plan';
import { parseStepResult, renderCommand, renderStdin } from '../provisioning/step';
import { SshSession, SshTarget } from '../audit/ssh';

export interface StepOutcome {
  readonly id: string;
  readonly result: 'changed' | 'unchanged';
  readonly seconds: number;
}

export interface RunnerOptions {
  readonly quiet?: boolean;
  readonly log?: (line: string) => void;
}

export class StepFailed extends Error {
  constructor(readonly stepId: string, readonly code: number | null, readonly stderr: string) {
    super(`step ${stepId} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-12).join('\n')}`);
    this.name = 'StepFailed';
  }
}

export interface RenderedStep {
  readonly step: HostPlan['steps'][number];
  readonly command: string;
  readonly stdin: string;
}

/** What goes over the wire for each step: the strings HostProvisioning sends too. */
export function renderPlanCommands(plan: HostPlan, inputs: Readonly<Record<string, string | undefined>>): RenderedStep[] {
  // Every input is checked before the first step touches the host.
  validatePlanInputs(plan, inputs);
  return plan.steps.map((step) => ({ step, command: renderCommand(step), stdin: renderStdin(step, inputs) }));
}

export async function applyPlan(plan: HostPlan, inputs: Readonly<Record<string, string | undefined>>,
  target: SshTarget, opts: RunnerOptions = {}): Promise<StepOutcome[]> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rendered = renderPlanCommands(plan, inputs);
  const session = await SshSession.connect(target);
  const outcomes: StepOutcome[] = [];
  try {
    for (const [i, { step, command, stdin }] of rendered.entries()) {
      const started = Date.now();
      if (!opts.quiet) log(`[${i + 1}/${rendered.length}] ${step.id}: ${step.title}`);
      const r = await session.exec(command, {
        stdin, timeoutMs: 15 * 60_000,
        onStdout: opts.quiet ? undefined : (line) => { if (line.startsWith('  ')) log(`    ${line.trim()}`); },
      });
      const result = parseStepResult(r.stdout);
      if (r.code !== 0 || !result) throw new StepFailed(step.id, r.code, r.stderr || r.stdout);
      const seconds = (Date.now() - started) / 1000;
      outcomes.push({ id: step.id, result, seconds });
      if (!opts.quiet) log(`    -> ${result} (${seconds.toFixed(1)}s)`);
    }
  } finally {
    session.close();
  }
  return outcomes;
}
