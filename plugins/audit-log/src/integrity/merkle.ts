/**
 * RFC 9162 section 2.1 hashing and inclusion-proof verification with Web Crypto's SHA-256.
 * Indices use arithmetic, not bit operators, which would truncate past 2^31 leaves.
 */
import { canonicalBytes, type JsonValue } from './jcs';

export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex))
    throw new TypeError('expected lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++)
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

/** SHA-256 of the parts, concatenated. */
export async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/** SHA-256(0x00 || leaf). */
export async function leafHash(leaf: Uint8Array): Promise<Uint8Array> {
  return sha256(LEAF, leaf);
}

/** SHA-256(0x01 || left || right). */
export async function nodeHash(
  left: Uint8Array,
  right: Uint8Array,
): Promise<Uint8Array> {
  return sha256(NODE, left, right);
}

/** The leaf hash of a committed record: SHA-256(0x00 || JCS(record)), as hex. */
export async function recordLeafHash(
  record: Record<string, JsonValue>,
): Promise<string> {
  return bytesToHex(await leafHash(canonicalBytes(record)));
}

/**
 * The root an inclusion proof leads to (RFC 9162 section 2.1.3.2), or null when the proof's
 * shape does not fit the index and size (too short, too long, index out of range).
 */
export async function rootFromInclusionProof(
  leafIndex: number,
  treeSize: number,
  leafHashHex: string,
  auditPath: readonly string[],
): Promise<string | null> {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize))
    return null;
  if (leafIndex < 0 || leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = hexToBytes(leafHashHex);
  for (const hex of auditPath) {
    if (sn === 0) return null;
    const p = hexToBytes(hex);
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? bytesToHex(r) : null;
}
