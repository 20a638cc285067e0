"""C2SP signed notes, checkpoints, cosignatures and tile paths: known answers from the
specifications' own examples, and what a verifier must refuse."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from auditlog.ledger import notes
from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer, note_matches
from auditlog.ledger.tiles import Tile
from auditlog.ledger.witnessing import Witness

pytestmark = pytest.mark.unit

# c2sp.org/signed-note, "Example": this vkey verifies this note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mF"
    "XmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_specifications_example_note_verifies_with_its_vkey() -> None:
    key = notes.NoteKey.parse(SPEC_VKEY)
    assert key.name == "example.com/foo" and key.key_id.hex() == "530d903a" and key.vkey == SPEC_VKEY
    text, (signature,) = notes.split(SPEC_NOTE)
    assert text == "This is an example message.\n"
    assert notes.signed_by(text, signature, key)
    assert not notes.signed_by("This is an altered message.\n", signature, key)


def test_vkeys_round_trip_even_when_their_base64_holds_a_plus() -> None:
    seed = next(s for s in (bytes([i]) * 32 for i in range(256)) if "+" in _vkey(s).split("+", 2)[2])
    key = notes.NoteKey("log.example/acme", notes.ED25519, Ed25519Signer(seed).public_key)
    assert "+" in key.vkey.split("+", 2)[2]
    assert notes.NoteKey.parse(key.vkey) == key
    wrong_id = key.vkey.replace(key.key_id.hex(), "00000000")
    with pytest.raises(notes.NoteError, match="key ID"):
        notes.NoteKey.parse(wrong_id)


def _vkey(seed: bytes) -> str:
    return notes.NoteKey("n", notes.ED25519, Ed25519Signer(seed).public_key).vkey


def test_key_ids_follow_the_formula() -> None:
    public = Ed25519Signer(bytes(range(32))).public_key
    expected = hashlib.sha256(b"w.example/1\n\x04" + public).digest()[:4]
    assert notes.NoteKey("w.example/1", notes.COSIGNATURE_V1, public).key_id == expected


def test_a_checkpoint_note_verifies_and_refuses_alterations() -> None:
    signer = CheckpointSigner.from_seed(bytes(range(32)), "example.com/log")
    root = hashlib.sha256(b"x").digest()
    checkpoint = signer.sign("acme", 5, root, datetime(2026, 12, 4, tzinfo=UTC))
    assert checkpoint.note is not None
    text = checkpoint.text
    assert text == (
        f"example.com/log/acme\n5\n{base64.b64encode(root).decode()}\n"
        "timestamp 2026-12-04T00:00:00.000000Z\n"
    )
    keys = signer.note_keys("acme")
    assert notes.open_checkpoint(checkpoint.note, keys).checkpoint.tree_size == 5
    assert note_matches(checkpoint, [signer.public_key])
    with pytest.raises(notes.NoteError, match="does not verify"):
        notes.open_checkpoint(checkpoint.note.replace("\n5\n", "\n6\n"), keys)
    stranger = CheckpointSigner.from_seed(bytes(32), "example.com/log").note_keys("acme")
    with pytest.raises(notes.NoteError, match="no signature by a known log key"):
        notes.open_checkpoint(checkpoint.note, stranger)
    note = checkpoint.note
    broken_notes = (note.replace("\n\n", "\n"), note + "x", "a\x01\n\n" + note)
    for broken in broken_notes:
        with pytest.raises(notes.NoteError):
            notes.open_checkpoint(broken, keys)


def test_cosignatures_sign_the_header_the_time_and_the_text() -> None:
    witness = Ed25519Signer(bytes([7]) * 32)
    key = notes.NoteKey("w.example/1", notes.COSIGNATURE_V1, witness.public_key)
    text = "example.com/log/acme\n5\nAAAA\n"
    cosignature = notes.cosign(text, key, witness.sign, 1_700_000_000)
    assert cosignature.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1700000000\n" + text.encode()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(cosignature.signature[8:], message)
    assert notes.cosigned_at(text, cosignature, key) == 1_700_000_000
    assert notes.cosigned_at(text.replace("5", "6"), cosignature, key) is None
    policy = notes.WitnessPolicy.parse([key.vkey], 1)
    with pytest.raises(notes.NoteError, match="cosignature keys"):
        notes.WitnessPolicy.parse([key.vkey.replace(key.vkey, _vkey(bytes(32)))], 1)
    assert policy.quorum == 1
    assert Witness.parse(f"http://127.0.0.1:1/ {key.vkey}").key == key


def test_tile_paths_round_trip() -> None:
    for path in ("0/000", "3/x001/x234/067", "entries/x123/456.p/7", "1/000.p/255"):
        assert Tile.parse(path).path == path
    assert Tile.parse("3/x001/x234/067").index == 1234067
    assert Tile.parse("1/000.p/2").needs() == 2 * 256
    for bad in ("0/5", "0/x000", "64/000", "0/000.p/0", "0/000.p/256", "entries/000.p/01", "00/000"):
        with pytest.raises(Exception, match=r"tile|level"):
            Tile.parse(bad)
