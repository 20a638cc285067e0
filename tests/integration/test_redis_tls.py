"""Redis over TLS as Memorystore serves it (issue 20): a server certificate of the instance's own
CA, naming the instance's IP in its common name. The clients verify the chain against the CA
given in AUDITLOG_REDIS_CA_CERT, and refuse a server signed by another CA."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditlog.backends.gcp.redis_cache import connect
from auditlog.backends.gcp.redis_registry import redis_client
from auditlog.errors import ConfigurationError
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[bytes, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(ca_key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, cert


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI=true")
        pytest.skip("redis-server is not installed")
    work: Path = tmp_path_factory.mktemp("redis-tls")
    ca_key, ca = _ca("memorystore-instance-ca")
    key, cert = _server(ca_key, ca)
    (work / "server.key").write_bytes(key)
    (work / "server.pem").write_text(_pem(cert))
    (work / "ca.pem").write_text(_pem(ca))
    port = free_port()
    argv = [
        "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(work / "server.pem"), "--tls-key-file", str(work / "server.key"),
        "--tls-ca-cert-file", str(work / "ca.pem"), "--tls-auth-clients", "no",
        "--save", "", "--appendonly", "no",
    ]  # fmt: skip
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"rediss://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                connect(url, ca_cert=_pem(ca), connect_timeout=1, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, _pem(ca)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_clients_verify_the_server_against_the_instances_ca(tls_redis: tuple[str, str]) -> None:
    url, ca = tls_redis
    assert connect(url, ca_cert=ca).ping()
    assert redis_client(url, ca_cert=ca).ping()


def test_a_server_signed_by_another_ca_is_refused(tls_redis: tuple[str, str]) -> None:
    url, _ = tls_redis
    _, stranger = _ca("someone-elses-ca")
    with pytest.raises(redis.ConnectionError):
        connect(url, ca_cert=_pem(stranger), connect_timeout=1, socket_timeout=1).ping()


def test_a_ca_without_tls_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="rediss://"):
        connect("redis://127.0.0.1:6379/0", ca_cert="-----BEGIN CERTIFICATE-----")
