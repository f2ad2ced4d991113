// A check: one claim about a control, what it runs, what it expects; run() returns
// what it observed and whether that meets the expectation.
import { ProveContext } from './context';

export interface Observation {
  readonly observed: string;
  readonly pass: boolean;
  readonly evidence?: readonly string[];
}

export interface Check {
  readonly control: string;
  readonly name: string;
  readonly ran: string;
  readonly expected: string;
  run(ctx: ProveContext): Promise<Observation>;
}

/** Runs a connection attempt that must fail; observed is the error the client saw. */
export async function mustBeRefused(attempt: () => Promise<{ end(): Promise<void> }>, accept: RegExp): Promise<Observation> {
  try {
    const conn = await attempt();
    await conn.end();
    return { observed: 'connection accepted', pass: false };
  } catch (e) {
    const err = e as { code?: string; errno?: number; message: string };
    const observed = `refused: ${err.code ?? ''} ${err.errno ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim();
    return { observed, pass: accept.test(observed) };
  }
}
