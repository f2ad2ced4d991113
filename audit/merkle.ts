// RFC 6962 §2.1 Merkle Tree Hash, audit (inclusion) paths and consistency proofs,
// plus their verification (the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2), and
// the O(log n) "frontier" the sealer keeps per checkpoint.
import { sha256 } from './format';

export const EMPTY_ROOT: Buffer = sha256();
export const leafHash = (leafData: Buffer): Buffer => sha256(Buffer.from([0x00]), leafData);
// One reused 65-byte input: node hashes are the bulk of a stream's hashing. (And a
// local copy of the import: under the CommonJS interop each use is a getter call.)
const nodeInput = Buffer.alloc(65);
const hash256 = sha256;
export const nodeHash = (left: Buffer, right: Buffer): Buffer => {
  if (left.length !== 32 || right.length !== 32) return sha256(Buffer.from([0x01]), left, right);
  nodeInput[0] = 0x01;
  left.copy(nodeInput, 1);
  right.copy(nodeInput, 33);
  return hash256(nodeInput);
};

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over already-hashed leaves (leaf hashes, i.e. SHA-256(0x00||d)). */
export function rootFromLeafHashes(leaves: readonly Buffer[]): Buffer {
  const n = leaves.length;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[0] as Buffer;
  const k = splitPoint(n);
  return nodeHash(rootFromLeafHashes(leaves.slice(0, k)), rootFromLeafHashes(leaves.slice(k)));
}

/** MTH(D[n]) over the leaf data, as RFC 6962 defines it. */
export function mth(data: readonly Buffer[]): Buffer {
  return rootFromLeafHashes(data.map(leafHash));
}

/** PATH(m, D[n]) over leaf hashes: the audit path of leaf m. */
export function inclusionProof(m: number, leaves: readonly Buffer[]): Buffer[] {
  const n = leaves.length;
  if (!(m >= 0 && m < n)) throw new RangeError(`leaf index ${m} outside a tree of ${n}`);
  if (n === 1) return [];
  const k = splitPoint(n);
  if (m < k) return [...inclusionProof(m, leaves.slice(0, k)), rootFromLeafHashes(leaves.slice(k))];
  return [...inclusionProof(m - k, leaves.slice(k)), rootFromLeafHashes(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) over leaf hashes: consistency between the first m and all n leaves. */
export function consistencyProof(m: number, leaves: readonly Buffer[]): Buffer[] {
  const n = leaves.length;
  if (!(m >= 0 && m <= n)) throw new RangeError(`old size ${m} outside 0..${n}`);
  if (m === 0 || m === n) return [];
  return subproof(m, leaves, true);
}

function subproof(m: number, leaves: readonly Buffer[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [rootFromLeafHashes(leaves)];
  const k = splitPoint(n);
  if (m <= k) return [...subproof(m, leaves.slice(0, k), b), rootFromLeafHashes(leaves.slice(k))];
  return [...subproof(m - k, leaves.slice(k), false), rootFromLeafHashes(leaves.slice(0, k))];
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf `index` with hash `leaf` in a tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of size1/root1 is a prefix of size2/root2? */
export function verifyConsistency(size1: number, size2: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[]): boolean {
  if (size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  let path = [...proof];
  if ((size1 & (size1 - 1)) === 0) path = [root1, ...path];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Buffer;
  let sr = path[0] as Buffer;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/**
 * The right edge of complete subtrees of a tree of `size` leaves: one hash per set
 * bit of size, largest (leftmost) first. This is what the sealer stores per checkpoint.
 */
export class Frontier {
  constructor(public size: number = 0, public readonly nodes: Buffer[] = []) {
    const bits = size.toString(2).split('').filter((c) => c === '1').length;
    if (nodes.length !== bits) throw new Error(`frontier of size ${size} needs ${bits} nodes, got ${nodes.length}`);
  }

  static fromBlob(size: number, blob: Buffer): Frontier {
    if (blob.length % 32) throw new Error('frontier blob is not a multiple of 32 bytes');
    const nodes: Buffer[] = [];
    for (let i = 0; i < blob.length; i += 32) nodes.push(blob.subarray(i, i + 32));
    return new Frontier(size, nodes);
  }

  toBlob(): Buffer {
    return Buffer.concat(this.nodes);
  }

  append(leaf: Buffer): void {
    let carry = leaf;
    let m = this.size;
    while (m % 2 === 1) {
      carry = nodeHash(this.nodes.pop() as Buffer, carry);
      m = Math.floor(m / 2);
    }
    this.nodes.push(carry);
    this.size += 1;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1] as Buffer;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i] as Buffer, r);
    return r;
  }
}
