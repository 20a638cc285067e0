/**
 * C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519
 * witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1), with Web Crypto only.
 *
 * A port of the Python SDK's `auditlog_sdk/notes.py`, with its semantics: signatures by keys
 * the caller does not know are ignored; one by a known key that does not verify rejects the
 * note; a witness counts once however many of its cosignatures the note carries.
 */
import { bytesToHex, sha256 } from './merkle';

/** Signature type of a note signer's Ed25519 key. */
export const ED25519 = 0x01;
/** Signature type of a witness's Ed25519 cosignature (cosignature/v1) key. */
export const COSIGNATURE_V1 = 0x04;

const DASH = '\u2014 ';
const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The line boundaries of Python's `str.splitlines`, which the SDK splits signatures with. */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/** Not a well-formed note or key, or a known key's signature that does not verify. */
export class NoteError extends Error {
  readonly name = 'NoteError';
}

/** A verifier key: a name, a signature type and a raw Ed25519 public key. */
export interface NoteKey {
  name: string;
  type: number;
  publicKey: Uint8Array;
  /** SHA-256(name || "\n" || type || public key)[:4]. */
  keyId: Uint8Array;
}

/** One signature line: the signer's name, its key id and what follows the key id. */
export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  signature: Uint8Array;
}

/** A note cut into its text (with its final newline) and its signature lines. */
export interface SignedNote {
  text: string;
  signatures: NoteSignature[];
}

/** What a checkpoint note's text states. */
export interface NoteCheckpoint {
  origin: string;
  treeSize: bigint;
  /** Lowercase hex, as the JSON checkpoint has it. */
  rootHash: string;
  extensions: string[];
}

/** The witnesses a client trusts (cosignature keys) and how many must have cosigned. */
export interface WitnessPolicy {
  witnesses: NoteKey[];
  quorum: number;
}

/** True for Web Crypto's refusal of an algorithm it lacks (Ed25519 in an older browser). */
export function isUnsupported(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'NotSupportedError';
}

/** Python's `str.partition`: the text before the first `separator`, and the rest after it. */
function partition(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0
    ? [text, '']
    : [text.slice(0, at), text.slice(at + separator.length)];
}

function fromBase64(text: string, what: string): Uint8Array {
  if (!BASE64.test(text)) throw new NoteError(`${what} is not base64`);
  return Uint8Array.from(atob(text), c => c.charCodeAt(0));
}

/** The verifier key `name` has for `publicKey` as a signer of `type`. */
export async function noteKey(
  name: string,
  type: number,
  publicKey: Uint8Array,
): Promise<NoteKey> {
  const prefix = new TextEncoder().encode(`${name}\n`);
  const digest = await sha256(prefix, new Uint8Array([type]), publicKey);
  return { name, type, publicKey, keyId: digest.slice(0, 4) };
}

/** A vkey: `<name>+<hex key id>+<base64 of type || public key>`, type 0x01 or 0x04. */
export async function parseVerifierKey(vkey: string): Promise<NoteKey> {
  const [name, rest] = partition(vkey.trim(), '+');
  const [hexId, material] = partition(rest, '+');
  const raw = fromBase64(material, `verifier key ${name}`);
  if (!name || raw.length !== 33 || ![ED25519, COSIGNATURE_V1].includes(raw[0]))
    throw new NoteError(
      `verifier key ${name}: an Ed25519 vkey (type 0x01 or 0x04) is expected`,
    );
  const key = await noteKey(name, raw[0], raw.slice(1));
  if (bytesToHex(key.keyId) !== hexId)
    throw new NoteError(
      `verifier key ${name}: its key ID does not match its key`,
    );
  return key;
}

/** A witness policy from cosignature vkeys; without `quorum`, every witness must cosign. */
export async function parseWitnessPolicy(
  vkeys: readonly string[],
  quorum?: number,
): Promise<WitnessPolicy> {
  const witnesses = await Promise.all(vkeys.map(parseVerifierKey));
  if (witnesses.some(k => k.type !== COSIGNATURE_V1))
    throw new NoteError('witness keys are cosignature keys (type 0x04)');
  const wanted = quorum ?? witnesses.length;
  if (!Number.isInteger(wanted))
    throw new NoteError(`a quorum is a whole number, not ${wanted}`);
  if (wanted < 0 || wanted > witnesses.length)
    throw new NoteError(
      `a quorum of ${wanted} needs at least that many witnesses`,
    );
  return { witnesses, quorum: wanted };
}

/** Python's `str.splitlines`: no empty last line for a final line break. */
function splitLines(text: string): string[] {
  const lines = text.split(LINE_BREAK);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(DASH)) throw new NoteError('not a signature line');
  const [name, encoded] = partition(line.slice(DASH.length), ' ');
  const raw = fromBase64(encoded, `the signature of ${name}`);
  if (raw.length < 5)
    throw new NoteError(`the signature of ${name} is too short`);
  return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
}

/** The note's text (up to its last blank line) and its signature lines, parsed. */
export function splitNote(note: string): SignedNote {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0 || !note.endsWith('\n'))
    throw new NoteError('a note is its text, a blank line and signature lines');
  return {
    text: note.slice(0, cut + 1),
    signatures: splitLines(note.slice(cut + 2)).map(parseSignatureLine),
  };
}

/** A checkpoint's text: origin, tree size in decimal, base64 root hash, extension lines. */
export function parseCheckpoint(text: string): NoteCheckpoint {
  const lines = text.split('\n').slice(0, -1);
  if (lines.length < 3 || !/^[0-9]+$/.test(lines[1]))
    throw new NoteError('not a checkpoint: origin, tree size, root hash');
  return {
    origin: lines[0],
    treeSize: BigInt(lines[1]),
    rootHash: bytesToHex(fromBase64(lines[2], 'the root hash')),
    extensions: lines.slice(3),
  };
}

/** Ed25519 through Web Crypto; a key it cannot import does not verify. Throws where the
 * browser has no Ed25519 (`isUnsupported`), so that this never reads as a failure. */
async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: string,
): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      publicKey as BufferSource,
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      signature as BufferSource,
      new TextEncoder().encode(message) as BufferSource,
    );
  } catch (error) {
    if (isUnsupported(error)) throw error;
    return false;
  }
}

function signedBy(signature: NoteSignature, key: NoteKey): boolean {
  return (
    signature.name === key.name &&
    bytesToHex(signature.keyId) === bytesToHex(key.keyId)
  );
}

/**
 * Whether one of `logKeys` (type 0x01) signed the note's text. Throws NoteError when a known
 * key's signature does not verify.
 */
export async function signedByLog(
  note: SignedNote,
  logKeys: readonly NoteKey[],
): Promise<boolean> {
  let signed = false;
  for (const signature of note.signatures) {
    for (const key of logKeys.filter(k => signedBy(signature, k))) {
      if (!(await ed25519Verify(key.publicKey, signature.signature, note.text)))
        throw new NoteError(`the signature of ${key.name} does not verify`);
      signed = true;
    }
  }
  return signed;
}

/** The message a cosignature/v1 signs: a header, the time, then the checkpoint text. */
export function cosignatureMessage(text: string, timestamp: bigint): string {
  return `cosignature/v1\ntime ${timestamp}\n${text}`;
}

/** The time of a cosignature/v1 (8 bytes, big-endian) if `key` made it over `text`; else null. */
async function cosignedAt(
  text: string,
  raw: Uint8Array,
  key: NoteKey,
): Promise<bigint | null> {
  if (raw.length !== 72) return null;
  const timestamp = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0);
  const message = cosignatureMessage(text, timestamp);
  return (await ed25519Verify(key.publicKey, raw.slice(8), message))
    ? timestamp
    : null;
}

/**
 * The `witnesses` that cosigned the note's text, by name, each with its cosignature's time
 * (POSIX seconds). Throws NoteError when a known witness's cosignature does not verify.
 */
export async function cosigners(
  note: SignedNote,
  witnesses: readonly NoteKey[],
): Promise<Map<string, bigint>> {
  const found = new Map<string, bigint>();
  for (const signature of note.signatures) {
    for (const key of witnesses.filter(k => signedBy(signature, k))) {
      const timestamp = await cosignedAt(note.text, signature.signature, key);
      if (timestamp === null)
        throw new NoteError(`the cosignature of ${key.name} does not verify`);
      found.set(key.name, timestamp);
    }
  }
  return found;
}
