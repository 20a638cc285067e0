"""The signer and key-wrapper ports, and each implementation against them: the in-memory Ed25519
key and Cloud KMS (``backends/gcp/kms.py``) for signing; the data dir's AES key and Cloud KMS
for wrapping tenant HMAC keys and subject keys.

No Cloud KMS emulator exists. The KMS code runs here against ``StandInKms``, an in-process
stand-in of the four RPCs it calls (``GetPublicKey``, ``AsymmetricSign``, ``Encrypt``,
``Decrypt``) with the documented request and response fields, real Ed25519 and AES-GCM
underneath, and CRC32C checksums as KMS computes them. What only a real project exercises:
IAM (who may sign, encrypt, decrypt), that the private keys cannot be exported, key-version
states and rotation schedules, latency and quotas, and the exact exception types of failures.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import google_crc32c
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditlog.backends.embedded.local_keys import AesKeyWrapper
from auditlog.backends.embedded.sqlite_state import SqliteStateStore
from auditlog.backends.gcp.kms import KmsError, KmsKeyWrapper, KmsSigner
from auditlog.ingest import pii, subjects
from auditlog.ingest.pii import TenantSecrets
from auditlog.ingest.subjects import SubjectKeys
from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer, verify_checkpoint
from auditlog.ports.signer import KeyWrapper, Signer

pytestmark = pytest.mark.unit

VERSION = "projects/p/locations/global/keyRings/auditlog/cryptoKeys/checkpoints/cryptoKeyVersions/1"
WRAPPING = "projects/p/locations/global/keyRings/auditlog/cryptoKeys/secrets"


def crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


@dataclass
class StandInKms:
    """The four KMS RPCs, as their documentation describes requests and answers. ``corrupt``
    names an answer field to flip, as a damaged response would be."""

    signing: Any = field(default_factory=Ed25519PrivateKey.generate)
    kek: bytes = field(default_factory=lambda: os.urandom(32))
    corrupt: str | None = None
    calls: list[str] = field(default_factory=list)

    def _bad(self, name: str) -> bool:
        return self.corrupt == name

    def get_public_key(self, *, request: dict[str, Any]) -> Any:
        self.calls.append("get_public_key")
        pem = self.signing.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        checksum = crc(pem.encode()) ^ (1 if self._bad("pem_crc32c") else 0)
        return SimpleNamespace(name=request["name"], pem=pem, pem_crc32c=checksum)

    def asymmetric_sign(self, *, request: dict[str, Any]) -> Any:
        self.calls.append("asymmetric_sign")
        data = request["data"]
        verified = request["data_crc32c"] == crc(data) and not self._bad("verified_data_crc32c")
        signature = self.signing.sign(data)
        if self._bad("signature"):
            signature = bytes([signature[0] ^ 1]) + signature[1:]
            return SimpleNamespace(
                name=request["name"], signature=signature, signature_crc32c=crc(signature) ^ 1,
                verified_data_crc32c=verified,
            )
        return SimpleNamespace(
            name=request["name"], signature=signature, signature_crc32c=crc(signature),
            verified_data_crc32c=verified,
        )

    def encrypt(self, *, request: dict[str, Any]) -> Any:
        self.calls.append("encrypt")
        plain, aad = request["plaintext"], request["additional_authenticated_data"]
        nonce = os.urandom(12)
        ciphertext = nonce + AESGCM(self.kek).encrypt(nonce, plain, aad)
        return SimpleNamespace(
            name=request["name"] + "/cryptoKeyVersions/1",
            ciphertext=ciphertext,
            ciphertext_crc32c=crc(ciphertext) ^ (1 if self._bad("ciphertext_crc32c") else 0),
            verified_plaintext_crc32c=request["plaintext_crc32c"] == crc(plain),
            verified_additional_authenticated_data_crc32c=(
                request["additional_authenticated_data_crc32c"] == crc(aad)
            ),
        )

    def decrypt(self, *, request: dict[str, Any]) -> Any:
        self.calls.append("decrypt")
        if request["ciphertext_crc32c"] != crc(request["ciphertext"]):
            raise ValueError("400 the request's ciphertext does not match its checksum")
        ciphertext, aad = request["ciphertext"], request["additional_authenticated_data"]
        plain = AESGCM(self.kek).decrypt(ciphertext[:12], ciphertext[12:], aad)  # InvalidTag if altered
        return SimpleNamespace(
            plaintext=plain, plaintext_crc32c=crc(plain) ^ (1 if self._bad("plaintext_crc32c") else 0)
        )


def _signers() -> list[tuple[str, Signer]]:
    return [
        ("in-memory", Ed25519Signer(bytes(range(32)))),
        ("cloud-kms", KmsSigner(StandInKms(), VERSION)),
    ]


@pytest.mark.parametrize(("name", "signer"), _signers(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_signer_signs_pure_ed25519_that_anyone_verifies(name: str, signer: Signer) -> None:
    assert len(signer.public_key) == 32
    message = b"tree_size 7\n"
    signature = signer.sign(message)
    assert len(signature) == 64
    Ed25519PublicKey.from_public_bytes(signer.public_key).verify(signature, message)  # raises if not
    assert signer.sign(message) == signature, "RFC 8032 Ed25519 is deterministic"


@pytest.mark.parametrize(("name", "signer"), _signers(), ids=lambda v: v if isinstance(v, str) else "")
def test_checkpoints_signed_through_the_port_verify_both_ways(name: str, signer: Signer) -> None:
    log = CheckpointSigner(signer, "contract.example/log")
    checkpoint = log.sign("acme", 3, merkle.leaf_hash(b"x"), datetime.now(UTC))
    assert verify_checkpoint(checkpoint, {log.key_id: signer.public_key})
    opened = notes.open_checkpoint(checkpoint.note or "", log.note_keys("acme"))
    assert (opened.checkpoint.origin, opened.checkpoint.tree_size) == ("contract.example/log/acme", 3)


def test_kms_signer_refuses_a_public_key_that_came_back_altered() -> None:
    with pytest.raises(KmsError, match=r"public key .* altered"):
        KmsSigner(StandInKms(corrupt="pem_crc32c"), VERSION)


def test_kms_signer_refuses_a_key_that_is_not_ed25519() -> None:
    with pytest.raises(KmsError, match="not an Ed25519 key"):
        KmsSigner(StandInKms(signing=ec.generate_private_key(ec.SECP256R1())), VERSION)


@pytest.mark.parametrize("damage", ["signature", "verified_data_crc32c"])
def test_kms_signer_refuses_a_signature_that_came_back_altered(damage: str) -> None:
    kms = StandInKms()
    signer = KmsSigner(kms, VERSION)
    kms.corrupt = damage
    with pytest.raises(KmsError, match="altered"):
        signer.sign(b"message")


def test_kms_signer_asks_for_the_public_key_once_and_signs_remotely() -> None:
    kms = StandInKms()
    signer = KmsSigner(kms, VERSION)
    log = CheckpointSigner(signer, "contract.example/log")
    log.sign("acme", 1, merkle.leaf_hash(b"x"), datetime.now(UTC))
    # Two signatures per checkpoint: the C2SP note and the original five lines.
    assert kms.calls == ["get_public_key", "asymmetric_sign", "asymmetric_sign"]


def _wrappers() -> list[tuple[str, KeyWrapper]]:
    return [
        ("local-aes", AesKeyWrapper(os.urandom(32))),
        ("cloud-kms", KmsKeyWrapper(StandInKms(), WRAPPING)),
    ]


@pytest.mark.parametrize(("name", "wrapper"), _wrappers(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_wrapper_round_trips_and_authenticates_the_context(name: str, wrapper: KeyWrapper) -> None:
    secret = os.urandom(32)
    wrapped = wrapper.wrap(secret, b"tenant acme")
    assert secret not in wrapped
    assert wrapper.unwrap(wrapped, b"tenant acme") == secret
    assert wrapper.wrap(secret, b"tenant acme") != wrapped, "a fresh nonce each time"
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM's or KMS's refusal
        wrapper.unwrap(wrapped, b"tenant other")
    altered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(Exception):  # noqa: B017
        wrapper.unwrap(altered, b"tenant acme")


def test_the_local_wrapper_says_altered_as_a_value_error() -> None:
    wrapper = AesKeyWrapper(os.urandom(32))
    with pytest.raises(ValueError, match="altered"):
        wrapper.unwrap(wrapper.wrap(b"k" * 32, b"a"), b"b")


def test_the_local_wrappers_name_tells_keys_apart_and_hides_them() -> None:
    key = os.urandom(32)
    assert AesKeyWrapper(key).name == AesKeyWrapper(key).name != AesKeyWrapper(os.urandom(32)).name
    assert key.hex() not in AesKeyWrapper(key).name
    assert KmsKeyWrapper(StandInKms(), WRAPPING).name == f"kms:{WRAPPING}"


@pytest.mark.parametrize("damage", ["ciphertext_crc32c", "plaintext_crc32c"])
def test_kms_wrapper_refuses_answers_that_came_back_altered(damage: str) -> None:
    kms = StandInKms()
    wrapper = KmsKeyWrapper(kms, WRAPPING)
    wrapped = wrapper.wrap(b"s" * 32, b"ctx")
    kms.corrupt = damage
    with pytest.raises(KmsError, match="altered"):
        wrapper.wrap(b"s" * 32, b"ctx") if damage == "ciphertext_crc32c" else wrapper.unwrap(wrapped, b"ctx")


@pytest.fixture
def state(tmp_path: Path) -> Any:
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


@pytest.mark.parametrize("kind", ["local-aes", "cloud-kms"])
def test_tenant_and_subject_keys_are_stored_wrapped(state: Any, kind: str) -> None:
    wrapper: KeyWrapper = AesKeyWrapper(os.urandom(32)) if kind == "local-aes" else KmsKeyWrapper(
        StandInKms(), WRAPPING
    )
    tenant_key = TenantSecrets(state, wrapper).key("acme")
    subject_key = SubjectKeys(state, wrapper=wrapper).key("acme", "alice", create=True)
    assert subject_key is not None
    for collection, doc_id, key in (
        (pii.COLLECTION, "acme", tenant_key),
        (subjects.COLLECTION, subjects.subject_id("acme", "alice"), subject_key),
    ):
        document = state.get(collection, doc_id)
        assert "key" not in document and document["kek"] == wrapper.name
        assert key not in base64.b64decode(document["wrapped"]), "the state store holds no plain key"
    # Another process with the same key encryption key reads the same keys.
    assert TenantSecrets(state, wrapper).key("acme") == tenant_key
    assert SubjectKeys(state, wrapper=wrapper).key("acme", "alice", create=False) == subject_key


def test_keys_stored_before_wrapping_still_read(state: Any) -> None:
    plain = os.urandom(32)
    legacy = {"algorithm": "HMAC-SHA256", "key": base64.b64encode(plain).decode()}
    state.create(pii.COLLECTION, "legacy", legacy)
    sid = subjects.subject_id("legacy", "bob")
    state.create(subjects.COLLECTION, sid, {"key": base64.b64encode(plain).decode()})
    wrapper = AesKeyWrapper(os.urandom(32))
    assert TenantSecrets(state, wrapper).key("legacy") == plain
    assert SubjectKeys(state, wrapper=wrapper).key("legacy", "bob", create=False) == plain


def test_a_key_wrapped_by_another_kek_or_moved_is_refused(state: Any) -> None:
    TenantSecrets(state, AesKeyWrapper(os.urandom(32))).key("acme")
    with pytest.raises(RuntimeError, match="readable"):
        TenantSecrets(state, AesKeyWrapper(os.urandom(32))).key("acme")
    # The same kek, but the wrapped key copied to another tenant's document: its context differs.
    wrapper = AesKeyWrapper(os.urandom(32))
    TenantSecrets(state, wrapper).key("one")
    state.create(pii.COLLECTION, "two", state.get(pii.COLLECTION, "one"))
    with pytest.raises(RuntimeError, match="readable"):
        TenantSecrets(state, wrapper).key("two")
