// A step is one idempotent bash program plus the data it needs. The same two
// renderings, renderCommand() and renderStdin(), are what the Pulumi component sends
// through remote.Command and what the lab runner sends over SSH: nothing else travels.
import { createHash } from 'node:crypto';
import { STEP_PRELUDE } from './prelude';
import { shq } from './shell';
import { InputKind, validateInputValue } from './inputs';

/** Data the plan knows at render time (configuration files, SQL). */
export interface InlinePayload {
  readonly key: string;
  readonly content: string;
}

/** Data supplied at apply time by name (certificates, keys, passwords). */
export interface InputRef {
  readonly key: string;
  /** Name in the inputs map given to renderStdin (e.g. "pki.serverKey"). */
  readonly name: string;
  readonly kind: InputKind;
  /** Secret inputs make the whole step secret: no logging, secret outputs. */
  readonly secret: boolean;
  /** For certificates: the subject the certificate must carry (Node's "O=..\nCN=.." form). */
  readonly expectSubject?: string;
  /** For private keys: the input name of the certificate it must match. */
  readonly matchesCertificate?: string;
}

export interface Step {
  /** Stable identifier: lowercase, digits and dashes; used in resource names. */
  readonly id: string;
  readonly title: string;
  /** The step body (bash), run after the prelude with $ZT_IN holding the payload. */
  readonly body: string;
  readonly inline: readonly InlinePayload[];
  readonly inputs: readonly InputRef[];
}

export const STEP_RESULT_PREFIX = 'ztmysql-step:';
const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Linux refuses a single argv string over 128 KiB; stay well below it. */
const MAX_COMMAND_BYTES = 96 * 1024;

export function isSecretStep(step: Step): boolean {
  return step.inputs.some((i) => i.secret);
}

/** The program: prelude, payload reading, body, result line; run as root through sudo. */
export function renderScript(step: Step): string {
  const keys = [...step.inline.map((p) => p.key), ...step.inputs.map((i) => i.key)];
  return [
    '#!/bin/bash',
    `ZT_STEP=${shq(step.id)}`,
    `ZT_EXPECT_KEYS=${shq(keys.join(' '))}`,
    STEP_PRELUDE,
    `# --- step: ${step.title.replace(/\n/g, ' ')}`,
    step.body,
    'zt_finish',
    '',
  ].join('\n');
}

/** The remote command line. The script travels as one argv string; data goes on stdin. */
export function renderCommand(step: Step): string {
  const command = `sudo -n -- /bin/bash -c ${shq(renderScript(step))} ztmysql-${step.id}`;
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
    throw new Error(`step ${step.id}: script is ${Buffer.byteLength(command)} bytes; move data into the payload`);
  }
  return command;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Checks every input the step needs, without ever echoing a value. */
export function validateStepInputs(step: Step, values: Readonly<Record<string, string | undefined>>): void {
  const problems: string[] = [];
  for (const input of step.inputs) {
    const value = values[input.name];
    const problem = validateInputValue(input, value, values);
    if (problem) problems.push(`${input.name}: ${problem}`);
  }
  if (problems.length) throw new InputError(`step ${step.id}: bad inputs:\n  - ${problems.join('\n  - ')}`);
}

/** The stdin payload: one "key base64" line per inline file and input. */
export function renderStdin(step: Step, values: Readonly<Record<string, string | undefined>>): string {
  validateStepInputs(step, values);
  const lines = [
    ...step.inline.map((p) => `${p.key} ${Buffer.from(p.content, 'utf8').toString('base64')}`),
    ...step.inputs.map((i) => `${i.key} ${Buffer.from(values[i.name] as string, 'utf8').toString('base64')}`),
  ];
  return lines.length ? lines.join('\n') + '\n' : '';
}

/**
 * Trigger hash: changes whenever the command or anything on stdin changes. Secret
 * values enter only through their own SHA-256, so the hash reveals nothing.
 */
export function stepFingerprint(step: Step, values: Readonly<Record<string, string | undefined>>): string {
  const h = createHash('sha256');
  h.update(renderCommand(step));
  for (const p of step.inline) h.update(`\0inline\0${p.key}\0${p.content}`);
  for (const i of step.inputs) {
    const v = values[i.name] ?? '';
    h.update(`\0input\0${i.key}\0${createHash('sha256').update(v).digest('hex')}`);
  }
  return h.digest('hex');
}

/** Builds a step body while registering the payload it references. */
export class StepBuilder {
  private readonly lines: string[] = [];
  private readonly inlinePayload: InlinePayload[] = [];
  private readonly inputRefs: InputRef[] = [];

  constructor(readonly id: string, readonly title: string) {
    if (!/^[a-z][a-z0-9-]*$/.test(id)) throw new Error(`step id ${JSON.stringify(id)} is not lowercase-dashed`);
  }

  /** Adds data known now; returns the bash expression of its path on the host. */
  inline(key: string, content: string): string {
    this.checkKey(key);
    this.inlinePayload.push({ key, content });
    return `"$ZT_IN/${key}"`;
  }

  /** Declares data supplied at apply time; returns the bash expression of its path. */
  input(ref: Omit<InputRef, 'key'> & { key?: string }): string {
    const key = ref.key ?? `in.${ref.name}`;
    this.checkKey(key);
    this.inputRefs.push({ ...ref, key });
    return `"$ZT_IN/${key}"`;
  }

  add(...lines: string[]): this {
    this.lines.push(...lines);
    return this;
  }

  build(): Step {
    return { id: this.id, title: this.title, body: this.lines.join('\n'), inline: [...this.inlinePayload], inputs: [...this.inputRefs] };
  }

  private checkKey(key: string): void {
    if (!KEY.test(key)) throw new Error(`payload key ${JSON.stringify(key)} must match ${KEY}`);
    if ([...this.inlinePayload, ...this.inputRefs].some((p) => p.key === key)) throw new Error(`payload key ${key} used twice in step ${this.id}`);
  }
}

/** Parses the result line the prelude prints last. */
export function parseStepResult(stdout: string): 'changed' | 'unchanged' | undefined {
  const m = new RegExp(`^${STEP_RESULT_PREFIX} \\S+ (changed|unchanged)$`, 'm').exec(stdout);
  return m ? (m[1] as 'changed' | 'unchanged') : undefined;
}
