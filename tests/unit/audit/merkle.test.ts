// RFC 6962 Merkle tree: roots against the Certificate Transparency test vectors and
// against an independent recursive implementation over node:crypto; inclusion and
// consistency proofs generated and verified for every (m, n) up to 24, and refused
// when tampered with; the sealer's frontier equals MTH at every size.
import { createHash } from 'node:crypto';
import {
  consistencyProof, EMPTY_ROOT, Frontier, inclusionProof, leafHash, mth, rootFromLeafHashes, verifyConsistency, verifyInclusion,
} from '../../../audit/merkle';

const H = (...b: Buffer[]): Buffer => { const h = createHash('sha256'); b.forEach((x) => h.update(x)); return h.digest(); };
/** RFC 6962 §2.1 written out independently: k = largest power of 2 < n. */
function refMth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Buffer.from([0]), d[0] as Buffer);
  let k = 1;
  while (k << 1 < d.length) k <<= 1;
  return H(Buffer.from([1]), refMth(d.slice(0, k)), refMth(d.slice(k)));
}

// The leaf inputs and roots of the CT reference implementation's merkle_tree tests.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 6962 Merkle tree hash', () => {
  test('empty tree is SHA-256 of the empty string', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(mth([]).equals(EMPTY_ROOT)).toBe(true);
  });

  test('matches the Certificate Transparency vectors for 1..8 leaves', () => {
    for (let n = 1; n <= 8; n++) expect(mth(CT_LEAVES.slice(0, n)).toString('hex')).toBe(CT_ROOTS[n - 1]);
  });

  test('matches an independent implementation for 0..70 random leaves', () => {
    const data = Array.from({ length: 70 }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest().subarray(0, i % 7));
    for (let n = 0; n <= 70; n++) expect(mth(data.slice(0, n)).equals(refMth(data.slice(0, n)))).toBe(true);
  });

  test('leaf and node hashes are domain-separated', () => {
    const a = Buffer.from('a');
    expect(leafHash(a).equals(H(Buffer.from([0]), a))).toBe(true);
    expect(rootFromLeafHashes([leafHash(a), leafHash(a)]).equals(H(Buffer.from([1]), leafHash(a), leafHash(a)))).toBe(true);
  });
});

describe('frontier (what the sealer stores)', () => {
  test('root and blob round-trip equal MTH at every size', () => {
    const leaves = Array.from({ length: 130 }, (_, i) => leafHash(Buffer.from(`e${i}`)));
    const f = new Frontier();
    expect(f.root().equals(EMPTY_ROOT)).toBe(true);
    for (let i = 0; i < leaves.length; i++) {
      f.append(leaves[i] as Buffer);
      expect(f.root().equals(rootFromLeafHashes(leaves.slice(0, i + 1)))).toBe(true);
      const again = Frontier.fromBlob(f.size, f.toBlob());
      expect(again.root().equals(f.root())).toBe(true);
      expect(f.toBlob().length).toBe(32 * (i + 1).toString(2).split('').filter((c) => c === '1').length);
    }
  });
});

describe('proofs (RFC 6962 §2.1.1, §2.1.2; verification per RFC 9162)', () => {
  const leaves = Array.from({ length: 24 }, (_, i) => leafHash(Buffer.from(`x${i}`)));
  const flip = (b: Buffer): Buffer => { const c = Buffer.from(b); c[0] = (c[0] as number) ^ 1; return c; };

  test('inclusion proofs verify for every leaf of every size, and fail when altered', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      const root = rootFromLeafHashes(tree);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(m, tree);
        expect(verifyInclusion(m, n, tree[m] as Buffer, proof, root)).toBe(true);
        expect(verifyInclusion(m, n, flip(tree[m] as Buffer), proof, root)).toBe(false);
        if (proof.length) expect(verifyInclusion(m, n, tree[m] as Buffer, [flip(proof[0] as Buffer), ...proof.slice(1)], root)).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, tree[m] as Buffer, proof, root)).toBe(false);
      }
    }
  });

  test('consistency proofs verify for every m <= n, and fail when altered', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const root2 = rootFromLeafHashes(leaves.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const root1 = rootFromLeafHashes(leaves.slice(0, m));
        const proof = consistencyProof(m, leaves.slice(0, n));
        expect(verifyConsistency(m, n, root1, root2, proof)).toBe(true);
        expect(verifyConsistency(m, n, flip(root1), root2, proof)).toBe(false);
        if (proof.length) expect(verifyConsistency(m, n, root1, root2, [...proof.slice(0, -1), flip(proof[proof.length - 1] as Buffer)])).toBe(false);
      }
    }
  });

  test('RFC 6962 §2.1.3 example: PROOF(3, D[7]) = [c, d, g, l]', () => {
    const d = Array.from({ length: 7 }, (_, i) => leafHash(Buffer.from([i])));
    const node = (a: number, b: number): Buffer => rootFromLeafHashes(d.slice(a, b));
    const proof = consistencyProof(3, d);
    expect(proof.map((p) => p.toString('hex'))).toEqual([node(2, 3), node(3, 4), node(0, 2), node(4, 7)].map((p) => p.toString('hex')));
  });
});
