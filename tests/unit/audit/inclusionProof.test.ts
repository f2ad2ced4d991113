// The offline check of `ztmysql verify --event` output: a proof built from a stream of
// leaves holds against the anchored root; a changed event, a changed path node, a
// wrong index or a root no anchor holds each make it fail.
import { checkInclusionProof, INCLUSION_PROOF_FORMAT, InclusionProofFile, inclusionRanges, proofEventOf, RangeHasher } from '../../../audit/inclusion';
import { Frontier } from '../../../audit/merkle';
import { synthEvent } from '../../../audit/bench/verifySynth';

function proofFor(eventIndex: number, n: number): InclusionProofFile {
  const h = new RangeHasher(inclusionRanges(eventIndex - 1, n));
  const f = new Frontier();
  for (let i = 1; i <= n; i++) { const l = synthEvent(i).leafHash; h.push(i - 1, l); f.append(l); }
  const e = synthEvent(eventIndex);
  return {
    format: INCLUSION_PROOF_FORMAT, event_id: String(eventIndex), seq: eventIndex, leaf_index: eventIndex - 1,
    leaf_hash: e.leafHash.toString('hex'), tree_size: n, root: f.root().toString('hex'),
    audit_path: h.proof().map((b) => b.toString('hex')),
    anchor: { emitted_at: 'x', checkpoint_hash: '00'.repeat(32), source: 's', line: 1 }, event: proofEventOf(e),
  };
}

describe('offline inclusion proof check', () => {
  const n = 77;
  test.each([1, 2, 38, 64, 65, 77])('event %i of 77 holds against the anchored root', (i) => {
    const p = proofFor(i, n);
    const r = checkInclusionProof(p, [{ tree_size: 10, root: 'ab'.repeat(32) }, { tree_size: n, root: p.root, emitted_at: 't', source: 'f', line: 3 }]);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  test('fails on a changed event, path node, index, or an unanchored root', () => {
    const p = proofFor(38, n);
    const anchors = [{ tree_size: n, root: p.root }];
    const failing = (q: InclusionProofFile, a = anchors): string[] => checkInclusionProof(q, a).checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failing({ ...p, event: { ...p.event, actor: 'mallory@x' } })).toEqual(['leaf']);
    const path = [...p.audit_path];
    path[2] = 'cd'.repeat(32);
    expect(failing({ ...p, audit_path: path })).toEqual(['inclusion']);
    expect(failing({ ...p, leaf_index: 38 })).toEqual(['inclusion']);
    expect(failing(p, [{ tree_size: n, root: 'ef'.repeat(32) }])).toEqual(['anchored']);
    expect(failing(p, [])).toEqual(['anchored']);
    expect(checkInclusionProof({ ...p, format: 'x' } as unknown as InclusionProofFile, anchors).ok).toBe(false);
  });
});
