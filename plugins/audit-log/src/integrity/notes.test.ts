import { afterEach, beforeAll, describe, it, expect, vi } from 'vitest';
import fixture from './__fixtures__/witnessed-note.json';
import {
  COSIGNATURE_V1,
  ED25519,
  parseVerifierKey,
  parseWitnessPolicy,
  splitNote,
} from './notes';
import {
  checkpointMessage,
  verifyCheckpoint,
  verifyInclusion,
  type Check,
  type WitnessPolicyConfig,
} from './verify';
import type { Checkpoint, InclusionProof, PublicKey } from '../api/types';

// Notes and cosignatures are built here straight from the specifications (c2sp.org/signed-note,
// tlog-checkpoint, tlog-cosignature) with Web Crypto, not with the code under test.

const utf8 = (text: string) => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (out.set(p, offset), offset + p.length), 0);
  return out;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const joined = concat(...parts) as BufferSource;
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

async function sign(key: CryptoKey, message: string): Promise<Uint8Array> {
  const data = utf8(message) as BufferSource;
  return new Uint8Array(await crypto.subtle.sign('Ed25519', key, data));
}

/** A named Ed25519 signer of one signature type, with its vkey and signed-note key id. */
interface Signer {
  name: string;
  privateKey: CryptoKey;
  publicKey: Uint8Array;
  keyId: Uint8Array;
  vkey: string;
}

async function signer(name: string, type: number): Promise<Signer> {
  const pair = await crypto.subtle.generateKey('Ed25519', true, [
    'sign',
    'verify',
  ]);
  const publicKey = new Uint8Array(
    await crypto.subtle.exportKey('raw', pair.publicKey),
  );
  const typeByte = new Uint8Array([type]);
  const keyId = (await sha256(utf8(`${name}\n`), typeByte, publicKey)).slice(
    0,
    4,
  );
  const vkey = `${name}+${hex(keyId)}+${base64(concat(typeByte, publicKey))}`;
  return { name, privateKey: pair.privateKey, publicKey, keyId, vkey };
}

const line = (by: Signer, signature: Uint8Array) =>
  `\u2014 ${by.name} ${base64(concat(by.keyId, signature))}\n`;

/** The log's signature line over a note's text. */
async function logSignature(log: Signer, text: string): Promise<string> {
  return line(log, await sign(log.privateKey, text));
}

/** A cosignature/v1 line: 8-byte big-endian time, then Ed25519 over header, time and text. */
async function cosignature(
  witness: Signer,
  text: string,
  time = 1_800_000_000,
): Promise<string> {
  const timestamp = new Uint8Array(8);
  new DataView(timestamp.buffer).setBigUint64(0, BigInt(time));
  const message = `cosignature/v1\ntime ${time}\n${text}`;
  return line(
    witness,
    concat(timestamp, await sign(witness.privateKey, message)),
  );
}

const TENANT = 'acme';
const ORIGIN = `audit.example/log/${TENANT}`;
let log: Signer;
let w1: Signer;
let w2: Signer;
let w3: Signer;
let publicKey: PublicKey;
let checkpoint: Checkpoint;
let text: string;
let logLine: string;

/** A JSON checkpoint of size `size` with its five-line signature, and its note's text. */
async function checkpointOf(size: number) {
  const root = await sha256(utf8(`root of ${size}`));
  const fields = {
    tenant_id: TENANT,
    tree_size: size,
    root_hash: hex(root),
    timestamp: '2026-11-26T12:05:00.000000Z',
    key_id: publicKey.key_id,
    signature: '',
  };
  const signed: Checkpoint = {
    ...fields,
    signature: hex(await sign(log.privateKey, checkpointMessage(fields))),
  };
  const noteText = `${ORIGIN}\n${size}\n${base64(root)}\ntimestamp ${
    fields.timestamp
  }\n`;
  return { checkpoint: signed, text: noteText };
}

beforeAll(async () => {
  log = await signer(ORIGIN, ED25519);
  [w1, w2, w3] = await Promise.all(
    ['w1.example', 'w2.example', 'w3.example'].map(n =>
      signer(n, COSIGNATURE_V1),
    ),
  );
  publicKey = {
    key_id: hex((await sha256(log.publicKey)).slice(0, 8)),
    algorithm: 'Ed25519',
    public_key: hex(log.publicKey),
  };
  ({ checkpoint, text } = await checkpointOf(7));
  logLine = await logSignature(log, text);
});

/** The checkpoint with a note of its text and these signature lines. */
const noted = (...lines: string[]): Checkpoint => ({
  ...checkpoint,
  note: `${text}\n${lines.join('')}`,
});

const policy = (quorum: number | undefined, ...by: Signer[]) =>
  ({ keys: by.map(w => w.vkey), quorum } satisfies WitnessPolicyConfig);

async function check(
  name: string,
  cp: Checkpoint,
  witnesses?: WitnessPolicyConfig,
): Promise<Check | undefined> {
  return (await verifyCheckpoint(cp, [publicKey], witnesses)).find(
    c => c.name === name,
  );
}

const NOTE = 'signed note';
const WITNESSES = 'witness cosignatures';

describe('signed-note keys and witness policies', () => {
  it('parses a vkey and checks its key id', async () => {
    const key = await parseVerifierKey(` ${w1.vkey}\n`);
    expect(key.name).toBe(w1.name);
    expect(key.type).toBe(COSIGNATURE_V1);
    expect(hex(key.keyId)).toBe(hex(w1.keyId));
    expect(hex(key.publicKey)).toBe(hex(w1.publicKey));
    const otherId = w1.vkey.replace(hex(w1.keyId), '00000000');
    await expect(parseVerifierKey(otherId)).rejects.toThrow(/key ID/);
    await expect(parseVerifierKey('w1+00000000+AQ==')).rejects.toThrow(
      /Ed25519 vkey/,
    );
    await expect(parseVerifierKey('w1+00000000+not base64')).rejects.toThrow(
      /base64/,
    );
  });

  it('requires cosignature keys and a quorum no larger than the witnesses', async () => {
    expect((await parseWitnessPolicy([w1.vkey, w2.vkey])).quorum).toBe(2);
    expect((await parseWitnessPolicy([w1.vkey, w2.vkey], 1)).quorum).toBe(1);
    await expect(parseWitnessPolicy([log.vkey])).rejects.toThrow(/0x04/);
    await expect(parseWitnessPolicy([w1.vkey], 2)).rejects.toThrow(/quorum/);
    await expect(parseWitnessPolicy([w1.vkey], 0.5)).rejects.toThrow(/whole/);
  });

  it('splits a note into its text and signature lines', () => {
    const note = splitNote(`${text}\n${logLine}`);
    expect(note.text).toBe(text);
    expect(note.signatures.map(s => [s.name, hex(s.keyId)])).toEqual([
      [ORIGIN, hex(log.keyId)],
    ]);
    expect(() => splitNote(text)).toThrow(/blank line/);
    expect(() => splitNote(`${text}\n${logLine.slice(2)}`)).toThrow(
      /signature line/,
    );
    expect(() => splitNote(`${text}\n\u2014 x ###\n`)).toThrow(/base64/);
  });
});

describe('the signed note and its witness cosignatures', () => {
  it('verifies a note signed by the log and cosigned by the quorum', async () => {
    const cp = noted(
      logLine,
      await cosignature(w1, text),
      await cosignature(w2, text),
    );
    const checks = await verifyCheckpoint(cp, [publicKey], policy(2, w1, w2));
    expect(checks.map(c => [c.name, c.verdict])).toEqual([
      ['signing key', 'verified'],
      ['checkpoint signature', 'verified'],
      [NOTE, 'verified'],
      [WITNESSES, 'verified'],
    ]);
    expect(checks[3].detail).toBe(
      `2 witnesses cosigned, 2 required: ${w1.name}, ${w2.name}`,
    );
  });

  it('fails a note whose text was tampered with', async () => {
    const cosigned = noted(logLine, await cosignature(w1, text));
    const tampered = {
      ...cosigned,
      note: cosigned.note!.replace('\n7\n', '\n8\n'),
    };
    const witnesses = policy(1, w1);
    expect((await check(NOTE, tampered))?.verdict).toBe('failed');
    expect(await check(WITNESSES, tampered, witnesses)).toMatchObject({
      verdict: 'failed',
      detail: `the cosignature of ${w1.name} does not verify`,
    });
  });

  it('fails a note that is not signed by a published key, or states another tree', async () => {
    const unsigned = noted(await cosignature(w1, text));
    expect((await check(NOTE, unsigned))?.detail).toMatch(/no signature/);
    const other = await checkpointOf(8);
    const swapped = { ...other.checkpoint, note: noted(logLine).note };
    expect((await check(NOTE, swapped))?.detail).toMatch(/another checkpoint/);
  });

  it('fails without the quorum, naming the count', async () => {
    const cp = noted(logLine, await cosignature(w1, text));
    expect(await check(WITNESSES, cp, policy(2, w1, w2))).toEqual({
      name: WITNESSES,
      verdict: 'failed',
      detail: `1 of 2 required witnesses cosigned: ${w1.name}`,
    });
    expect((await check(WITNESSES, cp, policy(undefined, w1)))?.verdict).toBe(
      'verified',
    );
  });

  it('does not count a cosignature by a witness outside the policy', async () => {
    const cp = noted(
      logLine,
      await cosignature(w1, text),
      await cosignature(w3, text),
    );
    expect((await check(WITNESSES, cp, policy(2, w1, w2)))?.detail).toBe(
      `1 of 2 required witnesses cosigned: ${w1.name}`,
    );
  });

  it('fails a cosignature over another tree', async () => {
    const other = await checkpointOf(8);
    const cp = noted(
      logLine,
      await cosignature(w1, other.text),
      await cosignature(w2, text),
    );
    expect(await check(WITNESSES, cp, policy(1, w1, w2))).toMatchObject({
      verdict: 'failed',
      detail: `the cosignature of ${w1.name} does not verify`,
    });
  });

  it('counts a witness once however many cosignatures it made', async () => {
    const cp = noted(
      logLine,
      await cosignature(w1, text),
      await cosignature(w1, text, 1_800_000_060),
    );
    expect((await check(WITNESSES, cp, policy(2, w1, w2)))?.detail).toBe(
      `1 of 2 required witnesses cosigned: ${w1.name}`,
    );
  });

  it('makes no witness check without a policy or with a quorum of 0', async () => {
    const cp = noted(logLine);
    for (const witnesses of [undefined, policy(0, w1, w2), policy(0)]) {
      const checks = await verifyCheckpoint(cp, [publicKey], witnesses);
      expect(checks.map(c => c.name)).not.toContain(WITNESSES);
      expect(checks.every(c => c.verdict === 'verified')).toBe(true);
    }
  });

  it('fails a checkpoint without a note, or a policy that does not parse', async () => {
    expect(await check(WITNESSES, checkpoint, policy(1, w1))).toMatchObject({
      verdict: 'failed',
      detail: 'the checkpoint has no signed note for witnesses to cosign',
    });
    expect(await check(NOTE, checkpoint)).toBeUndefined();
    const broken = { keys: [w1.vkey.slice(0, -4)] };
    expect((await check(WITNESSES, noted(logLine), broken))?.detail).toMatch(
      /auditLog\.witnesses/,
    );
  });

  describe('in a browser without Ed25519', () => {
    afterEach(() => vi.restoreAllMocks());

    it('cannot verify, rather than fail', async () => {
      vi.spyOn(crypto.subtle, 'importKey').mockRejectedValue(
        new DOMException('no Ed25519', 'NotSupportedError'),
      );
      const cp = noted(logLine, await cosignature(w1, text));
      const checks = await verifyCheckpoint(cp, [publicKey], policy(1, w1));
      expect(checks.slice(1).map(c => [c.name, c.verdict])).toEqual([
        ['checkpoint signature', 'unsupported'],
        [NOTE, 'unsupported'],
        [WITNESSES, 'unsupported'],
      ]);
    });
  });
});

// scripts/make_witness_vectors.py: checkpoints signed by the service's own CheckpointSigner,
// cosigned by its witness service, each case with the Python SDK's verify_proof verdict.
describe('notes made by the service and its witnesses', () => {
  const keys = fixture.public_keys as PublicKey[];

  it('reads the log and witness vkeys they publish', async () => {
    const logKey = await parseVerifierKey(fixture.log_vkey);
    expect([logKey.name, logKey.type]).toEqual(['audit.example/log/acme', 1]);
    expect(hex(logKey.publicKey)).toBe(keys[0].public_key);
    const witnesses = await parseWitnessPolicy(
      Object.values(fixture.witness_vkeys),
    );
    expect(witnesses.witnesses.map(w => w.type)).toEqual([4, 4, 4]);
  });

  it.each(fixture.cases.map(c => [c.name, c] as const))(
    'agrees with the Python SDK: %s',
    async (_, vector) => {
      const witnesses = {
        keys: vector.witnesses.keys,
        quorum: vector.witnesses.quorum ?? undefined,
      };
      const proof = vector.proof as InclusionProof;
      const result = await verifyInclusion(proof, keys, witnesses);
      expect(result.verdict, JSON.stringify(result.checks)).toBe(
        vector.sdk_verified ? 'verified' : 'failed',
      );
    },
  );

  it('names the witnesses that cosigned', async () => {
    const [both] = fixture.cases;
    const proof = both.proof as InclusionProof;
    const checks = await verifyCheckpoint(proof.checkpoint, keys, {
      keys: both.witnesses.keys,
    });
    expect(checks.find(c => c.name === WITNESSES)?.detail).toBe(
      '2 witnesses cosigned, 2 required: w1.example/witness, w2.example/witness',
    );
  });
});
