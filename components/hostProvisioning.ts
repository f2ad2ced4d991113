// HostProvisioning: the provisioning plan (provisioning/plan.ts) turned into one
// remote.Command per step, in order. Each command sends exactly what the lab runner
// sends over SSH: renderCommand(step) as the command line and renderStdin(step, inputs)
// on stdin. Steps that carry a secret input run with logging off, secret stdin,
// secret triggers and secret outputs. The host key is pinned; dialing is bounded.
import * as pulumi from '@pulumi/pulumi';
import * as command from '@pulumi/command';
import * as random from '@pulumi/random';
import { renderPlan, planInputs } from '../provisioning/plan';
import { ProvisioningSettings } from '../provisioning/settings';
import { Step, isSecretStep, renderCommand, renderStdin, stepFingerprint } from '../provisioning/step';
import { PASSWORD_SPECIALS } from '../provisioning/inputs';

export type StepLogging = 'none' | 'stdoutAndStderr';

/** The plain strings one step sends, as the lab runner would send them. */
export interface RemoteCommandSpec {
  readonly id: string;
  readonly title: string;
  readonly create: string;
  readonly stdin: string;
  readonly fingerprint: string;
  readonly secret: boolean;
  readonly logging: StepLogging;
}

export function remoteCommandFor(step: Step, values: Readonly<Record<string, string | undefined>>): RemoteCommandSpec {
  const secret = isSecretStep(step);
  return {
    id: step.id, title: step.title,
    create: renderCommand(step),
    stdin: renderStdin(step, values),
    fingerprint: stepFingerprint(step, values),
    secret,
    logging: secret ? 'none' : 'stdoutAndStderr',
  };
}

/** Every step of the plan for these settings, rendered with plain input values. */
export function remoteCommandsFor(settings: ProvisioningSettings, values: Readonly<Record<string, string | undefined>>): RemoteCommandSpec[] {
  return renderPlan(settings).steps.map((step) => remoteCommandFor(step, values));
}

/** RandomPassword arguments that always satisfy PASSWORD_ALPHABET and the STRONG policy. */
export const PASSWORD_ARGS: random.RandomPasswordArgs = {
  length: 32, special: true, overrideSpecial: PASSWORD_SPECIALS,
  upper: true, lower: true, numeric: true,
  minUpper: 2, minLower: 2, minNumeric: 2, minSpecial: 2,
};

export interface HostConnection {
  readonly host: pulumi.Input<string>;
  readonly port?: pulumi.Input<number>;
  readonly user: pulumi.Input<string>;
  /** OpenSSH/PEM private key of the deploy identity. Treated as secret. */
  readonly privateKey: pulumi.Input<string>;
  /** The host's SSH public key ("ssh-ed25519 AAAA..."). Required: connections are never unpinned. */
  readonly hostKey: pulumi.Input<string>;
  /** Dial attempts before giving up (default 30) and seconds per attempt (default 20). */
  readonly dialErrorLimit?: number;
  readonly perDialTimeout?: number;
}

export interface HostProvisioningArgs {
  /** The plan's settings; rendered here with renderPlan (validation included). */
  readonly settings: ProvisioningSettings;
  readonly connection: HostConnection;
  /** Apply-time inputs by name (PKI_INPUTS, passwordInput(principal)). Secret ones are wrapped in secret. */
  readonly inputs: Readonly<Record<string, pulumi.Input<string>>>;
  /** Optional command run before the first step (e.g. waiting for the boot script). Holds no secret. */
  readonly preflightCommand?: string;
  /**
   * Resources the first command waits for (the VM, its OS Login key and login grants).
   * Passed explicitly: a component's own dependsOn does not order its children.
   */
  readonly waitFor?: pulumi.Input<pulumi.Resource>[];
}

export class HostProvisioning extends pulumi.ComponentResource {
  /** One command per plan step, in plan order. */
  readonly steps: command.remote.Command[];
  readonly preflight?: command.remote.Command;
  /** The id of the last step's command: depend on it to run after provisioning. */
  readonly done: pulumi.Output<string>;

  constructor(name: string, args: HostProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:hostProvisioning:HostProvisioning', name, {}, opts);
    const plan = renderPlan(args.settings);
    const needed = planInputs(plan);
    const missing = [...needed.keys()].filter((n) => args.inputs[n] === undefined);
    if (missing.length) throw new Error(`HostProvisioning ${name}: inputs missing for the plan: ${missing.join(', ')}`);

    const c = args.connection;
    const connection: command.types.input.remote.ConnectionArgs = {
      host: c.host, port: c.port ?? 22, user: c.user,
      privateKey: pulumi.secret(c.privateKey),
      hostKey: c.hostKey,
      dialErrorLimit: c.dialErrorLimit ?? 30,
      perDialTimeout: c.perDialTimeout ?? 20,
    };

    const first = args.waitFor ?? [];
    let previous: pulumi.Resource | undefined;
    if (args.preflightCommand) {
      this.preflight = new command.remote.Command(`${name}-preflight`, {
        connection, create: args.preflightCommand, logging: 'stdoutAndStderr', addPreviousOutputInEnv: false,
        triggers: [args.preflightCommand],
      }, { parent: this, dependsOn: first });
      previous = this.preflight;
    }

    this.steps = [];
    for (const step of plan.steps) {
      const secret = isSecretStep(step);
      const names = step.inputs.map((i) => i.name);
      const values = pulumi.all(names.map((n) => (needed.get(n) ? pulumi.secret(args.inputs[n]) : pulumi.output(args.inputs[n]))))
        .apply((vs) => Object.fromEntries(names.map((n, i) => [n, vs[i]])) as Record<string, string>);
      const rendered = values.apply((v) => remoteCommandFor(step, v));
      const stdin = rendered.apply((r) => r.stdin);
      const fingerprint = rendered.apply((r) => r.fingerprint);
      const cmd = new command.remote.Command(`${name}-${step.id}`, {
        connection,
        // A plain string known at preview: the reviewer sees the very script that will run.
        create: renderCommand(step),
        stdin: secret ? pulumi.secret(stdin) : stdin,
        triggers: [secret ? pulumi.secret(fingerprint) : fingerprint],
        logging: secret ? 'none' : 'stdoutAndStderr',
        addPreviousOutputInEnv: false,
      }, {
        parent: this,
        dependsOn: previous ? [previous] : first,
        additionalSecretOutputs: secret ? ['stdout', 'stderr'] : [],
        customTimeouts: { create: '20m', update: '20m' },
      });
      this.steps.push(cmd);
      previous = cmd;
    }
    this.done = this.steps[this.steps.length - 1].id;
    this.registerOutputs({ steps: this.steps.map((s) => s.id) });
  }
}
