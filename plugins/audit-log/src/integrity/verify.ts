/**
 * Checks what docs/INTEGRITY.md promises, in the browser: a checkpoint's Ed25519 signature, a
 * record's leaf hash, and an inclusion proof against the checkpoint's root.
 *
 * Ed25519 comes from Web Crypto (Chromium 137+, Firefox 129+, Safari 17+, Node 20). Where a
 * browser lacks it the outcome is "unsupported", never "verified".
 */
import type {
  Checkpoint,
  CommittedRecord,
  InclusionProof,
  PublicKey,
} from '../api/types';
import {
  bytesToHex,
  hexToBytes,
  recordLeafHash,
  rootFromInclusionProof,
} from './merkle';

export type Verdict = 'verified' | 'failed' | 'unsupported';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
}

export interface VerificationResult {
  verdict: Verdict;
  checks: Check[];
}

/** The five-line text a checkpoint signature covers. */
export function checkpointMessage(checkpoint: Checkpoint): string {
  return [
    'auditlog-checkpoint/v1',
    checkpoint.tenant_id,
    String(checkpoint.tree_size),
    checkpoint.root_hash,
    checkpoint.timestamp,
    '',
  ].join('\n');
}

/** key_id: the first 8 bytes of SHA-256 of the raw public key, hex. */
export async function keyId(publicKeyHex: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      hexToBytes(publicKeyHex) as BufferSource,
    ),
  );
  return bytesToHex(digest.slice(0, 8));
}

export async function verifyCheckpoint(
  checkpoint: Checkpoint,
  keys: PublicKey[],
): Promise<Check[]> {
  const checks: Check[] = [];
  const key = keys.find(k => k.key_id === checkpoint.key_id);
  if (!key) {
    return [
      {
        name: 'signing key',
        verdict: 'failed',
        detail: `no published key ${checkpoint.key_id}`,
      },
    ];
  }
  if (key.algorithm !== 'Ed25519') {
    return [
      {
        name: 'signing key',
        verdict: 'failed',
        detail: `unexpected algorithm ${key.algorithm}`,
      },
    ];
  }
  let derived: string;
  try {
    derived = await keyId(key.public_key);
  } catch {
    return [
      {
        name: 'signing key',
        verdict: 'failed',
        detail: 'the public key is not hex',
      },
    ];
  }
  checks.push(
    derived === key.key_id
      ? {
          name: 'signing key',
          verdict: 'verified',
          detail: `key ${key.key_id} matches its id`,
        }
      : {
          name: 'signing key',
          verdict: 'failed',
          detail: `key id ${key.key_id} is not ${derived}`,
        },
  );
  checks.push(await verifySignature(checkpoint, key.public_key));
  return checks;
}

async function verifySignature(
  checkpoint: Checkpoint,
  publicKeyHex: string,
): Promise<Check> {
  const name = 'checkpoint signature';
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey(
      'raw',
      hexToBytes(publicKeyHex) as BufferSource,
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
  } catch (error) {
    if (error instanceof DOMException && error.name === 'NotSupportedError') {
      return {
        name,
        verdict: 'unsupported',
        detail: 'this browser has no Ed25519 in Web Crypto',
      };
    }
    return {
      name,
      verdict: 'failed',
      detail: 'the public key is not a raw Ed25519 key',
    };
  }
  let signature: Uint8Array;
  try {
    signature = hexToBytes(checkpoint.signature);
  } catch {
    return { name, verdict: 'failed', detail: 'the signature is not hex' };
  }
  const ok = await crypto.subtle.verify(
    { name: 'Ed25519' },
    cryptoKey,
    signature as BufferSource,
    new TextEncoder().encode(checkpointMessage(checkpoint)) as BufferSource,
  );
  return ok
    ? {
        name,
        verdict: 'verified',
        detail: `Ed25519 signature by ${checkpoint.key_id} is valid`,
      }
    : {
        name,
        verdict: 'failed',
        detail: 'the Ed25519 signature does not match the checkpoint',
      };
}

export async function verifyInclusion(
  proof: InclusionProof,
  keys: PublicKey[],
): Promise<VerificationResult> {
  const checks = await verifyCheckpoint(proof.checkpoint, keys);
  if (proof.tree_size !== proof.checkpoint.tree_size) {
    checks.push({
      name: 'tree size',
      verdict: 'failed',
      detail: `proof is for size ${proof.tree_size}, checkpoint for ${proof.checkpoint.tree_size}`,
    });
  }
  if (
    proof.record !== null &&
    proof.record.tenant_id !== proof.checkpoint.tenant_id
  ) {
    checks.push({
      name: 'tenant',
      verdict: 'failed',
      detail: `the event is of ${String(
        proof.record.tenant_id,
      )}, the checkpoint of ${proof.checkpoint.tenant_id}`,
    });
  }
  checks.push(
    await verifyRecord(proof.record, proof.leaf_hash, proof.audit_id),
  );
  let root: string | null = null;
  try {
    root = await rootFromInclusionProof(
      proof.leaf_index,
      proof.tree_size,
      proof.leaf_hash,
      proof.audit_path,
    );
  } catch {
    root = null;
  }
  checks.push(
    root !== null && root === proof.checkpoint.root_hash
      ? {
          name: 'inclusion proof',
          verdict: 'verified',
          detail: `leaf ${proof.leaf_index} of ${proof.tree_size} leads to the signed root`,
        }
      : {
          name: 'inclusion proof',
          verdict: 'failed',
          detail:
            root === null
              ? 'the audit path does not fit the leaf index and tree size'
              : 'the audit path leads to another root',
        },
  );
  return { verdict: overall(checks), checks };
}

async function verifyRecord(
  record: CommittedRecord | null,
  leafHashHex: string,
  auditId: string,
): Promise<Check> {
  const name = 'leaf hash';
  if (record === null) {
    return {
      name,
      verdict: 'verified',
      detail:
        'payload deleted by retention; the proof rests on the leaf hash alone',
    };
  }
  if (record.audit_id !== auditId) {
    return {
      name,
      verdict: 'failed',
      detail: `record is of ${String(record.audit_id)}, not ${auditId}`,
    };
  }
  let computed: string;
  try {
    computed = await recordLeafHash(record);
  } catch (error) {
    return {
      name,
      verdict: 'failed',
      detail: `record cannot be canonicalised: ${String(error)}`,
    };
  }
  return computed === leafHashHex
    ? {
        name,
        verdict: 'verified',
        detail: 'SHA-256(0x00 || JCS(record)) matches',
      }
    : { name, verdict: 'failed', detail: `the record hashes to ${computed}` };
}

export function overall(checks: Check[]): Verdict {
  if (checks.some(c => c.verdict === 'failed')) return 'failed';
  if (checks.some(c => c.verdict === 'unsupported')) return 'unsupported';
  return 'verified';
}
