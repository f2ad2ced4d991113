// The order-free event checks: the same findings and state whether an event arrives
// decoded or as the row the server sent; each tampering is caught; the shape check of an
// image agrees with the decoder on every truncation and corruption of a real image. The
// row reader takes every length encoding and refuses malformed rows.
import { randomBytes } from 'node:crypto';
import { checkImage, decodeImage, eventLeafHash } from '../../../audit/format';
import { BatchWriter, EventChecks, RecordKind } from '../../../audit/eventChecks';
import { decimalAt, splitRow, WireLeafPacker, WireRowError } from '../../../audit/wireRows';
import { leafRow, lenenc, wireRow } from './support/wireRow';
import { Findings } from '../../../audit/findings';
import { imageDigest } from '../../../audit/verifyState';
import { synthEvent } from '../../../audit/bench/verifySynth';
import type { StoredEvent } from '../../../audit/verify';

const N = 20_000; // several worker batches
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

/** A leaf row packed as the driver's thread packs it: kind, seq, then the event record from offset 9. */
function packRow(row: Buffer, w = new BatchWriter(1 << 12)): Buffer {
  w.reset();
  new WireLeafPacker().pack(w, row, 0, row.length);
  return w.buf.subarray(0, w.off);
}

/** The events checked decoded, or (wire) as the rows the server sends, packed from them. */
function check(evs: StoredEvent[], current: [string, Buffer][], wire = false) {
  const findings = new Findings();
  const checks = new EventChecks(findings);
  const w = new BatchWriter(1 << 12);
  for (const e of evs) {
    if (!wire) { checks.event(e); continue; }
    const b = packRow(leafRow(BigInt(e.eventId) + 100n, e), w);
    expect([b[0], b.readBigUInt64BE(1), b.readBigUInt64BE(13)]).toEqual([RecordKind.LEAF, BigInt(e.eventId) + 100n, e.eventId]);
    checks.event({ packed: true, eventId: e.eventId, eventTime: e.eventTime, leafHash: e.leafHash, batch: b, off: 9, end: b.length });
  }
  for (const [t, d] of current) checks.stateRow(t, d);
  return {
    findings: findings.list.map((f) => `${f.code} ${f.at?.event ?? f.at?.table ?? ''}`).sort(),
    counts: Object.fromEntries(findings.counts),
    tables: checks.tables(),
  };
}

describe('event checks', () => {
  test('decoded events and server rows: the same findings and the same state verdict', () => {
    const evs = events();
    const decoded = check(evs, rows(false));
    expect(decoded.findings).toEqual(['LEAF_MISMATCH 7', 'MALFORMED_EVENT 11', 'MALFORMED_EVENT 13']);
    // Event 11's truncated after-image enters the replay, so the state differs from the rows.
    expect(decoded.tables.find((t) => t.table === 'accounts')).toEqual({ table: 'accounts', expectedRows: N / 4, actualRows: N / 4, equal: false });
    expect(check(evs, rows(false), true)).toEqual(decoded);
  });

  test('a clean log matches its rows; one row changed without an event does not; a row of another table is named', () => {
    const clean = Array.from({ length: N }, (_, k) => synthEvent(k + 1));
    const ok = check(clean, rows(false), true);
    expect(ok.findings).toEqual([]);
    expect(ok.tables.every((t) => t.equal)).toBe(true);
    const bad = check(clean, rows(true), true);
    expect(bad.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual(['accounts']);
    const stray = check(clean, [...rows(false), ['audit_events', randomBytes(32)]], true);
    expect(stray.findings).toEqual(['STATE_MISMATCH audit_events']);
  });

});

describe('server rows', () => {
  const split = (row: Buffer, n: number): (string | null)[] => {
    const starts = new Int32Array(n);
    const lens = new Int32Array(n);
    splitRow(row, 0, row.length, starts, lens, n);
    return Array.from({ length: n }, (_, i) => (lens[i] as number) < 0 ? null : row.toString('latin1', starts[i], (starts[i] as number) + (lens[i] as number)));
  };

  test('every length encoding is read back, at each boundary', () => {
    for (const len of [0, 1, 250, 251, 252, 65535, 65536, 2 ** 24 - 1, 2 ** 24]) {
      const v = 'x'.repeat(len);
      expect(split(wireRow(['7', null, v, '']), 4)).toEqual(['7', null, v, '']);
    }
    expect(lenenc(2 ** 24)[0]).toBe(0xfe);
  });

  test('a malformed row is refused with what is wrong, never read past its end', () => {
    const good = wireRow(['1', 'abc']);
    const refuse = (row: Buffer, n: number, msg: RegExp): void => expect(() => split(row, n)).toThrow(msg);
    refuse(good.subarray(0, good.length - 1), 2, /runs past the row/);
    refuse(Buffer.concat([good, Buffer.from([0])]), 2, /1 bytes after the last of 2 columns/);
    refuse(good, 3, /ends after 2 of 3 columns/);
    refuse(Buffer.from([0xff, 1]), 1, /length marker 0xff/);
    refuse(Buffer.from([0xfc, 5]), 1, /runs past the row/);
    refuse(Buffer.from([0xfe, 1, 0, 0, 0, 1, 0, 0, 0]), 1, /longer than 4 GiB/);
    expect(() => decimalAt(Buffer.from('12a'), 0, 3)).toThrow(WireRowError);
    expect(() => decimalAt(Buffer.from(''), 0, 0)).toThrow(/integer column of 0 bytes/);
  });

  test('the event id the driver thread reads, and the record it packs: a missing event, an id beyond 2^53, a malformed row packs nothing', () => {
    const e = synthEvent(3);
    const idOf = (r: Buffer): bigint | null => new WireLeafPacker().pack(new BatchWriter(1 << 12), r, 0, r.length);
    const row = leafRow(9n, e);
    expect(idOf(row)).toBe(3n);
    const none = leafRow(10n, null);
    expect(idOf(none)).toBeNull();
    const big = leafRow(11n, { ...e, eventId: 2n ** 63n + 5n });
    expect(idOf(big)).toBe(2n ** 63n + 5n);
    const packedBig = packRow(big);
    expect([packedBig[0], packedBig.readBigUInt64BE(1), packedBig.readBigUInt64BE(13)]).toEqual([RecordKind.LEAF, 11n, 2n ** 63n + 5n]);
    const packedNone = packRow(none);
    expect([packedNone[0], packedNone.readBigUInt64BE(1), packedNone.length]).toEqual([RecordKind.NULL_LEAF, 10n, 9]);
    const w = new BatchWriter(1 << 12);
    const badId = leafRow(12n, { ...e, eventId: 1n }).toString('latin1').replace('\x011', '\x01x');
    expect(() => new WireLeafPacker().pack(w, Buffer.from(badId, 'latin1'), 0, badId.length)).toThrow(WireRowError);
    expect([w.off, w.count]).toEqual([0, 0]);
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
