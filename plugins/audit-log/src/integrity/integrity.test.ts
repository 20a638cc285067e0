import { describe, it, expect } from 'vitest';
import vectors from './__fixtures__/vectors.json';
import { canonicalize, type JsonValue } from './jcs';
import {
  bytesToHex,
  leafHash,
  recordLeafHash,
  rootFromInclusionProof,
} from './merkle';
import {
  checkpointMessage,
  keyId,
  verifyCheckpoint,
  verifyInclusion,
} from './verify';
import type { Checkpoint, InclusionProof, PublicKey } from '../api/types';

// The vectors come from scripts/make_integrity_vectors.py: Trail of Bits' rfc8785, pyca
// cryptography's Ed25519 and the recursive RFC 9162 definitions, not from this code.
const checkpoint = vectors.checkpoint as Checkpoint;
const key = vectors.public_key as PublicKey;
const proofs = vectors.proofs as InclusionProof[];

describe('JCS (RFC 8785)', () => {
  it.each(vectors.records.map((v, i) => [i, v] as const))(
    'canonicalises record %i exactly as rfc8785 does',
    (_, vector) => {
      expect(canonicalize(vector.record as JsonValue)).toBe(vector.canonical);
    },
  );

  it('sorts keys by UTF-16 code units, not by code points or locale', () => {
    // RFC 8785 section 3.2.3's example keys.
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Object.keys would put the integer-like key first; read the order off the text instead.
    const keys = [...canonicalize(value).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map(
      m => JSON.parse(`"${m[1]}"`),
    );
    expect(keys).toEqual([
      '\r',
      '1',
      '\u0080',
      '\u00f6',
      '\u20ac',
      '\ud83d\ude00',
      '\ufb33',
    ]);
  });

  it('escapes as JSON.stringify does and keeps numbers in shortest form', () => {
    expect(
      canonicalize({
        b: 'a"\\\u0001\n\u2028',
        a: [1, 1e21, 0.1, -0, null, true],
      }),
    ).toBe('{"a":[1,1e+21,0.1,0,null,true],"b":"a\\"\\\\\\u0001\\n\u2028"}');
  });

  it('refuses what I-JSON forbids', () => {
    expect(() => canonicalize({ a: '\ud800' })).toThrow(/surrogate/);
    expect(() => canonicalize({ a: Number.NaN })).toThrow();
  });
});

describe('Merkle hashing and inclusion proofs (RFC 9162)', () => {
  it('hashes leaves as SHA-256(0x00 || leaf)', async () => {
    const hashes = await Promise.all(
      vectors.leaf_hashes_of_bytes.map((_, i) => leafHash(new Uint8Array([i]))),
    );
    expect(hashes.map(bytesToHex)).toEqual(vectors.leaf_hashes_of_bytes);
  });

  it('recomputes every record leaf hash', async () => {
    for (const vector of vectors.records) {
      expect(
        await recordLeafHash(vector.record as Record<string, JsonValue>),
      ).toBe(vector.leaf_hash);
    }
  });

  it('verifies every proof of every tree size from 1 to 12 against its root', async () => {
    for (const tree of vectors.trees) {
      for (const proof of tree.proofs) {
        const root = await rootFromInclusionProof(
          proof.index,
          tree.size,
          vectors.leaf_hashes_of_bytes[proof.index],
          proof.path,
        );
        expect(root, `size ${tree.size} index ${proof.index}`).toBe(tree.root);
      }
    }
  });

  it('rejects proofs that do not fit: wrong index, wrong size, short, long, swapped', async () => {
    const tree = vectors.trees[6]; // size 7
    const { index, path } = tree.proofs[5];
    const leaf = vectors.leaf_hashes_of_bytes[index];
    expect(await rootFromInclusionProof(index, 7, leaf, path)).toBe(tree.root);
    expect(await rootFromInclusionProof(4, 7, leaf, path)).not.toBe(tree.root);
    // Size 8 shares size 7's shape at index 5 (the same path is valid for both); 6 does not.
    expect(await rootFromInclusionProof(index, 6, leaf, path)).not.toBe(
      tree.root,
    );
    expect(
      await rootFromInclusionProof(index, 7, leaf, path.slice(1)),
    ).toBeNull();
    expect(
      await rootFromInclusionProof(index, 7, leaf, [...path, path[0]]),
    ).toBeNull();
    expect(
      await rootFromInclusionProof(index, 7, leaf, [...path].reverse()),
    ).not.toBe(tree.root);
    expect(await rootFromInclusionProof(7, 7, leaf, path)).toBeNull();
    expect(await rootFromInclusionProof(-1, 7, leaf, path)).toBeNull();
  });
});

describe('checkpoint signatures (Ed25519 through Web Crypto)', () => {
  it('derives the key id from the raw key', async () => {
    expect(await keyId(key.public_key)).toBe(key.key_id);
  });

  it('builds the five-line signed text', () => {
    expect(checkpointMessage(checkpoint)).toBe(
      `auditlog-checkpoint/v1\nacme\n7\n${checkpoint.root_hash}\n2026-11-26T12:05:00.000000Z\n`,
    );
  });

  it('verifies a checkpoint signed by pyca/cryptography', async () => {
    const checks = await verifyCheckpoint(checkpoint, [key]);
    expect(checks.map(c => [c.name, c.verdict])).toEqual([
      ['signing key', 'verified'],
      ['checkpoint signature', 'verified'],
    ]);
  });

  it.each([
    ['tree_size', { tree_size: 8 }],
    ['root_hash', { root_hash: '00'.repeat(32) }],
    ['timestamp', { timestamp: '2026-11-26T12:05:00.000001Z' }],
    ['tenant_id', { tenant_id: 'acme2' }],
    ['signature', { signature: checkpoint.signature.replace(/^../, '00') }],
  ])('fails when %s is changed', async (_, change) => {
    const checks = await verifyCheckpoint({ ...checkpoint, ...change }, [key]);
    expect(checks.find(c => c.name === 'checkpoint signature')?.verdict).toBe(
      'failed',
    );
  });

  it('fails for an unknown key or a key that does not match its id', async () => {
    expect((await verifyCheckpoint(checkpoint, []))[0].verdict).toBe('failed');
    const other = { ...key, public_key: 'ab'.repeat(32) };
    const checks = await verifyCheckpoint(checkpoint, [other]);
    expect(checks[0].verdict).toBe('failed');
    expect(checks[1].verdict).toBe('failed');
  });
});

describe('verifyInclusion', () => {
  it('verifies every event of the vector log', async () => {
    for (const proof of proofs) {
      const result = await verifyInclusion(proof, [key]);
      expect(result.verdict, JSON.stringify(result.checks)).toBe('verified');
    }
  });

  it('still verifies from the leaf hash once retention removed the record', async () => {
    const result = await verifyInclusion({ ...proofs[3], record: null }, [key]);
    expect(result.verdict).toBe('verified');
    expect(result.checks.find(c => c.name === 'leaf hash')?.detail).toMatch(
      /retention/,
    );
  });

  it('fails when the record was altered, even by one character', async () => {
    const record = {
      ...proofs[2].record!,
      user_agent: `${proofs[2].record!.user_agent} `,
    };
    const result = await verifyInclusion({ ...proofs[2], record }, [key]);
    expect(result.verdict).toBe('failed');
    expect(result.checks.find(c => c.name === 'leaf hash')?.verdict).toBe(
      'failed',
    );
  });

  it('fails when the path or the leaf hash was altered', async () => {
    const path = [...proofs[1].audit_path];
    path[0] = path[0].replace(/^./, c => (c === '0' ? '1' : '0'));
    expect(
      (await verifyInclusion({ ...proofs[1], audit_path: path }, [key]))
        .verdict,
    ).toBe('failed');
    const leaf = proofs[0].leaf_hash;
    expect(
      (
        await verifyInclusion({ ...proofs[1], record: null, leaf_hash: leaf }, [
          key,
        ])
      ).verdict,
    ).toBe('failed');
  });

  it("fails when the checkpoint is another tenant's", async () => {
    const record = { ...proofs[0].record!, tenant_id: 'globex' };
    const result = await verifyInclusion({ ...proofs[0], record }, [key]);
    expect(result.checks.find(c => c.name === 'tenant')?.verdict).toBe(
      'failed',
    );
    expect(result.verdict).toBe('failed');
  });

  it('fails when the proof names another tree size than its checkpoint', async () => {
    const result = await verifyInclusion({ ...proofs[0], tree_size: 6 }, [key]);
    expect(result.verdict).toBe('failed');
  });
});
