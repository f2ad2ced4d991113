// `ztmysql verify` tells where a long run is on stderr: rewritten in place on a
// terminal; in a log, once past 2 s, one line per phase and at most one every 10 s.
import { progressPrinter } from '../../../cli/verify';

function sink(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const out = { isTTY, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

const RUN = [
  { phase: 'log', leaves: 0, elapsedMs: 0 },
  { phase: 'log', leaves: 400_000, elapsedMs: 2_000 },
  { phase: 'log', leaves: 2_400_000, elapsedMs: 12_000 },
  { phase: 'unsealed', leaves: 3_000_000, elapsedMs: 15_000 },
  { phase: 'state', leaves: 3_000_000, elapsedMs: 15_100 },
  { phase: 'checks', leaves: 3_000_000, elapsedMs: 16_000 },
] as const;

describe('verify progress', () => {
  test('in a log: nothing for the first 2 s, then a line per phase and every 10 s, with counts and rate', () => {
    const s = sink(false);
    const p = progressPrinter(s.out);
    for (const r of RUN) p(r);
    expect(s.text().split('\n').filter(Boolean)).toEqual([
      'verify: reading the log: 400,000 leaves (200,000/s), 2 s',
      'verify: reading the log: 2,400,000 leaves (200,000/s), 12 s',
      'verify: unsealed events: 3,000,000 leaves (200,000/s), 15 s',
      'verify: current table state: 3,000,000 leaves (198,675/s), 15 s',
      'verify: final checks: 3,000,000 leaves (187,500/s), 16 s',
    ]);
  });

  test('on a terminal: every update rewrites the line, the last one ends it', () => {
    const s = sink(true);
    const p = progressPrinter(s.out);
    for (const r of RUN) p(r);
    expect(s.text().match(/\r/g)).toHaveLength(RUN.length);
    expect(s.text().endsWith('\rverify: final checks: 3,000,000 leaves (187,500/s), 16 s\u001b[K\n')).toBe(true);
    expect(s.text().match(/\n/g)).toHaveLength(1);
  });
});
