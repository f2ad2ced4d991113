// The order-free event checks: the same findings and state whether an event arrives
// decoded or as raw column bytes; each tampering is caught; the shape check of an image agrees with the decoder on every
// truncation and corruption of a real image.
import { randomBytes } from 'node:crypto';
import { checkImage, decodeImage, eventLeafHash } from '../../../audit/format';
import { EventChecks, RawEvent } from '../../../audit/eventChecks';
import { Findings } from '../../../audit/findings';
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

function check(evs: (StoredEvent | RawEvent)[], current: [string, Buffer][]) {
  const findings = new Findings();
  const checks = new EventChecks(findings);
  for (const e of evs) checks.event(e);
  for (const [t, d] of current) checks.stateRow(t, d);
  return {
    findings: findings.list.map((f) => `${f.code} ${f.at?.event ?? f.at?.table ?? ''}`).sort(),
    counts: Object.fromEntries(findings.counts),
    tables: checks.tables(),
  };
}

describe('event checks', () => {
  test('decoded and raw events: the same findings and the same state verdict', () => {
    const evs = events();
    const decoded = check(evs, rows(false));
    expect(decoded.findings).toEqual(['LEAF_MISMATCH 7', 'MALFORMED_EVENT 11', 'MALFORMED_EVENT 13']);
    // Event 11's truncated after-image enters the replay, so the state differs from the rows.
    expect(decoded.tables.find((t) => t.table === 'accounts')).toEqual({ table: 'accounts', expectedRows: N / 4, actualRows: N / 4, equal: false });
    expect(check(evs.map(rawOf), rows(false))).toEqual(decoded);
  });

  test('a clean log matches its rows; one row changed without an event does not; a row of another table is named', () => {
    const clean = Array.from({ length: N }, (_, k) => rawOf(synthEvent(k + 1)));
    const ok = check(clean, rows(false));
    expect(ok.findings).toEqual([]);
    expect(ok.tables.every((t) => t.equal)).toBe(true);
    const bad = check(clean, rows(true));
    expect(bad.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual(['accounts']);
    const stray = check(clean, [...rows(false), ['audit_events', randomBytes(32)]]);
    expect(stray.findings).toEqual(['STATE_MISMATCH audit_events']);
  });

  test('a driver value that is not bytes is encoded as text, as the decoded path does', () => {
    const e = synthEvent(5);
    const raw = rawOf(e);
    const asStrings: RawEvent = { ...raw, fields: raw.fields.map((v, i) => (i === 1 || i === 4 ? (v as Buffer).toString('utf8') : v)) };
    expect(check([asStrings], [])).toEqual(check([e], []));
    expect(check([asStrings], []).findings).toEqual([]);
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
