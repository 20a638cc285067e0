/**
 * Checks what docs/INTEGRITY.md promises, in the browser: a checkpoint's Ed25519 signature, its
 * C2SP signed note (the log's note signature and, under a witness policy, a quorum of witness
 * cosignatures, as the Python and Go SDKs require), a record's leaf hash, and an inclusion proof
 * against the checkpoint's root.
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
import {
  ED25519,
  NoteError,
  cosigners,
  isUnsupported,
  noteKey,
  parseCheckpoint,
  parseWitnessPolicy,
  signedByLog,
  splitNote,
  type NoteCheckpoint,
  type NoteKey,
  type WitnessPolicy,
} from './notes';

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

/**
 * The witnesses whose cosignatures a checkpoint's note must carry (`auditLog.witnesses` in the
 * app config): cosignature vkeys, and how many of them must have cosigned (default: all).
 */
export interface WitnessPolicyConfig {
  keys: string[];
  quorum?: number;
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

/**
 * A checkpoint's checks: its signing key and signature, its signed note when it has one, and
 * with `witnesses` whose quorum is above 0, the witnesses' cosignatures of that note.
 */
export async function verifyCheckpoint(
  checkpoint: Checkpoint,
  keys: PublicKey[],
  witnesses?: WitnessPolicyConfig,
): Promise<Check[]> {
  const checks = await verifySignedBody(checkpoint, keys);
  if (checkpoint.note != null)
    checks.push(await verifyNoteSignature(checkpoint.note, checkpoint, keys));
  if (witnesses) checks.push(...(await verifyWitnesses(checkpoint, witnesses)));
  return checks;
}

/** The signing key the checkpoint names, and its signature over the five-line body. */
async function verifySignedBody(
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
    if (isUnsupported(error)) return unsupported(name);
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

/** An inclusion proof: its checkpoint (under `witnesses`, if given), record and audit path. */
export async function verifyInclusion(
  proof: InclusionProof,
  keys: PublicKey[],
  witnesses?: WitnessPolicyConfig,
): Promise<VerificationResult> {
  const checks = await verifyCheckpoint(proof.checkpoint, keys, witnesses);
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

function unsupported(name: string): Check {
  return {
    name,
    verdict: 'unsupported',
    detail: 'this browser has no Ed25519 in Web Crypto',
  };
}

/** A failed check for a NoteError, unsupported where Ed25519 is missing; rethrows the rest. */
function noteFailure(name: string, error: unknown): Check {
  if (isUnsupported(error)) return unsupported(name);
  if (error instanceof NoteError)
    return { name, verdict: 'failed', detail: error.message };
  throw error;
}

/**
 * The published keys as the log's note keys: named by the note's origin (the tenant's log), and
 * only those whose key_id re-derives from the key, as the SDKs' `keys_from` keeps them.
 */
async function logNoteKeys(
  origin: string,
  keys: PublicKey[],
): Promise<NoteKey[]> {
  const noteKeys: NoteKey[] = [];
  for (const key of keys) {
    const raw = /^(?:[0-9a-f]{2}){32}$/.test(key.public_key)
      ? hexToBytes(key.public_key)
      : null;
    if (raw && (await keyId(key.public_key)) === key.key_id)
      noteKeys.push(await noteKey(origin, ED25519, raw));
  }
  return noteKeys;
}

/** The note states the JSON checkpoint's tenant (its origin's last segment), size and root. */
function statesCheckpoint(
  stated: NoteCheckpoint,
  checkpoint: Checkpoint,
): boolean {
  return (
    stated.origin.endsWith(`/${checkpoint.tenant_id}`) &&
    String(stated.treeSize) === String(checkpoint.tree_size) &&
    stated.rootHash === checkpoint.root_hash
  );
}

/** The note's signature by the log (a published key under the note's origin), and its text. */
async function verifyNoteSignature(
  note: string,
  checkpoint: Checkpoint,
  keys: PublicKey[],
): Promise<Check> {
  const name = 'signed note';
  try {
    const signed = splitNote(note);
    const stated = parseCheckpoint(signed.text);
    const logKeys = await logNoteKeys(stated.origin, keys);
    if (!(await signedByLog(signed, logKeys)))
      throw new NoteError('no signature by a published log key');
    if (!statesCheckpoint(stated, checkpoint))
      throw new NoteError(
        "the note states another checkpoint than the checkpoint's fields",
      );
    return {
      name,
      verdict: 'verified',
      detail: `signed by the log ${stated.origin}, for the same tree size and root`,
    };
  } catch (error) {
    return noteFailure(name, error);
  }
}

/**
 * Under a witness policy whose quorum is above 0, one check: at least `quorum` of its
 * witnesses cosigned the note. A policy that does not parse fails that check.
 */
async function verifyWitnesses(
  checkpoint: Checkpoint,
  witnesses: WitnessPolicyConfig,
): Promise<Check[]> {
  const name = 'witness cosignatures';
  let policy: WitnessPolicy;
  try {
    policy = await parseWitnessPolicy(witnesses.keys, witnesses.quorum);
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    return [
      {
        name,
        verdict: 'failed',
        detail: `the witness policy (auditLog.witnesses) is invalid: ${problem}`,
      },
    ];
  }
  if (policy.quorum === 0) return [];
  if (checkpoint.note == null)
    return [
      {
        name,
        verdict: 'failed',
        detail: 'the checkpoint has no signed note for witnesses to cosign',
      },
    ];
  try {
    const found = await cosigners(splitNote(checkpoint.note), policy.witnesses);
    return [quorumCheck(name, [...found.keys()], policy.quorum)];
  } catch (error) {
    return [noteFailure(name, error)];
  }
}

function quorumCheck(name: string, cosigned: string[], quorum: number): Check {
  const who = cosigned.length > 0 ? `: ${cosigned.join(', ')}` : '';
  return cosigned.length < quorum
    ? {
        name,
        verdict: 'failed',
        detail: `${cosigned.length} of ${quorum} required witnesses cosigned${who}`,
      }
    : {
        name,
        verdict: 'verified',
        detail: `${cosigned.length} witnesses cosigned, ${quorum} required${who}`,
      };
}
