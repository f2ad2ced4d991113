// The order-free event checks: the same findings and state whether they run inline or
// in the worker thread, whether an event arrives decoded or as raw column bytes; each
// tampering is caught; the shape check of an image agrees with the decoder on every
// truncation and corruption of a real image.
import { randomBytes } from 'node:crypto';
import { checkImage, decodeImage, eventLeafHash } from '../../../audit/format';
import { EventCheckSink, InlineEventChecks, WorkerEventChecks } from '../../../audit/eventCheckSink';
import type { RawEvent } from '../../../audit/eventChecks';
import { imageDigest } from '../../../audit/verifyState';
import { synthEvent } from '../../../audit/bench/verifySynth';
import type { StoredEvent } from '../../../audit/verify';

const N = 20_000; // several worker batches
const rawOf = (e: StoredEvent): RawEvent => {
  const utf8 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'utf8'));
  return {
    raw: true, eventId: e.eventId, eventTime: e.eventTime, leafHash: e.leafHash, formatVersion: e.formatVersion,
    fields: [utf8(e.tableName), utf8(e.action), e.pkImage, e.tenantId, utf8(e.actor), Buffer.from(e.eventTime, 'latin1'),
      utf8(e.incarnation), e.beforeImage, e.afterImage, utf8(e.detail)],
    at: 0,
  };
};

/** Event 7's leaf no longer matches; event 11 has a truncated image (leaf recomputed); event 13 a bad version. */
function events(): StoredEvent[] {
  return Array.from({ length: N }, (_, k) => {
    const e = synthEvent(k + 1);
    if (k + 1 === 7) return { ...e, actor: 'mallory@198.18.0.9' };
    if (k + 1 === 11) {
      const x = { ...e, afterImage: (e.afterImage as Buffer).subarray(0, 20) };
      return { ...x, leafHash: eventLeafHash(x) };
    }
    if (k + 1 === 13) return { ...e, formatVersion: 9 };
    return e;
  });
}

/** Current rows: the last image of every synthetic account, with account 3 changed behind the log's back. */
function rows(tamper: boolean): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (let i = 4; i <= N; i += 4) out.push(['accounts', imageDigest(synthEvent(tamper && i === 12 ? 10 : i).afterImage as Buffer)]);
  return out;
}

async function check(sink: EventCheckSink, evs: (StoredEvent | RawEvent)[], current: [string, Buffer][]) {
  try {
    for (const e of evs) sink.event(e);
    await sink.ready();
    for (const [t, d] of current) sink.stateRow(t, d);
    await sink.settle();
    const r = sink.result();
    return {
      findings: r.findings.map((f) => `${f.code} ${f.at?.event ?? f.at?.table ?? ''}`).sort(),
      counts: Object.fromEntries(r.counts),
      tables: r.tables.map(({ table, expectedRows, actualRows, equal }) => ({ table, expectedRows, actualRows, equal })),
    };
  } finally {
    sink.close();
  }
}

describe('event checks', () => {
  test('inline and worker, decoded and raw: the same findings and the same state verdict', async () => {
    const evs = events();
    const inline = await check(new InlineEventChecks(), evs, rows(false));
    expect(inline.findings).toEqual(['LEAF_MISMATCH 7', 'MALFORMED_EVENT 11', 'MALFORMED_EVENT 13']);
    // Event 11's truncated after-image enters the replay, so the state differs from the rows.
    expect(inline.tables.find((t) => t.table === 'accounts')).toEqual({ table: 'accounts', expectedRows: N / 4, actualRows: N / 4, equal: false });
    expect(await check(new WorkerEventChecks(), evs, rows(false))).toEqual(inline);
    expect(await check(new WorkerEventChecks(), evs.map(rawOf), rows(false))).toEqual(inline);
    expect(await check(new InlineEventChecks(), evs.map(rawOf), rows(false))).toEqual(inline);
  }, 60_000);

  test('a clean log matches its rows; one row changed without an event does not', async () => {
    const clean = Array.from({ length: N }, (_, k) => rawOf(synthEvent(k + 1)));
    const ok = await check(new WorkerEventChecks(), clean, rows(false));
    expect(ok.findings).toEqual([]);
    expect(ok.tables.every((t) => t.equal)).toBe(true);
    const bad = await check(new WorkerEventChecks(), clean, rows(true));
    expect(bad.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual(['accounts']);
    const stray = await check(new InlineEventChecks(), clean, [...rows(false), ['audit_events', randomBytes(32)]]);
    expect(stray.findings).toEqual(['STATE_MISMATCH audit_events']);
  }, 60_000);

  test('a failing worker makes the verification fail loudly, not pass', async () => {
    const sink = new WorkerEventChecks();
    // Not a packed batch: the worker's parser throws on it.
    const sab = new SharedArrayBuffer(4);
    Buffer.from(sab).set([0, 0, 0, 2]);
    (sink as unknown as { worker: { postMessage(m: unknown): void } }).worker.postMessage({ t: 'events', sab, len: 4 });
    await expect(sink.settle()).rejects.toThrow(/event checks worker/);
    sink.close();
  });
});

describe('image shape check', () => {
  test('agrees with the decoder on every prefix and every single-byte corruption of a real image', () => {
    const image = synthEvent(6).afterImage as Buffer;
    const verdict = (f: () => unknown): string => {
      try { f(); return 'ok'; } catch (e) { return (e as Error).message; }
    };
    for (let len = 0; len <= image.length; len++) {
      const b = image.subarray(0, len);
      expect(verdict(() => checkImage(b))).toBe(verdict(() => decodeImage(b)));
    }
    for (let i = 0; i < image.length; i++) {
      for (const v of [0x00, 0x02, 0x09, 0xff]) {
        const b = Buffer.from(image);
        b[i] = v;
        expect(verdict(() => checkImage(b))).toBe(verdict(() => decodeImage(b)));
      }
    }
  });
});
