"""Real receivers for the stream destinations, each started by the tests on a free loopback port:

- ``Rsyslog``: a private rsyslogd (Debian ``rsyslog``; ``rsyslog-gnutls`` for RFC 5425 TLS) with
  its own configuration, pid file and output file. imtcp takes octet-counted frames; rsyslog's
  own RFC 5424 parser splits each message and ``mmpstrucdata`` parses its structured data, and
  every message is written as one JSON line (``records()``), so the tests check what an
  independent receiver understood, not what we sent.
- ``make_pki``: a test CA and a server certificate for ``localhost`` (python ``cryptography``).
- ``GcsEmulator``: ``gcp-storage-emulator`` (PyPI), in memory. It ignores the JSON API's
  preconditions, so its launcher makes uploads honour ``ifGenerationMatch`` as the Cloud Storage
  documentation says (0: only if no live object has the name; otherwise 412 conditionNotMet),
  like devtools/standins.py patches bqemulator. Everything else is the emulator as shipped.
- ``SplunkHecReceiver``: an HTTP Event Collector written from Splunk's documentation (see its
  docstring), served by uvicorn in a thread.

``require(name, reason)`` skips a test whose receiver cannot run here, except under CI=true,
where it fails (as tests/conftest.py does for the GCP stand-ins).
"""

from __future__ import annotations

import datetime
import glob
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devtools.standins import StandIn, _launch
from tests.conftest import free_port


def require(name: str, reason: str | None) -> None:
    """Skip (or, under CI=true, fail) when ``reason`` says why ``name`` cannot run here."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI=true: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


# -- rsyslog ------------------------------------------------------------------------------------

_RSYSLOG_CONF = """
global(workDirectory="{workdir}" maxMessageSize="256k"{tls_global})
module(load="imtcp"{tls_module})
module(load="mmpstrucdata")
input(type="imtcp" address="127.0.0.1" port="{port}" supportOctetCountedFraming="on")
template(name="fields" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="$!rfc5424-sd" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
action(type="mmpstrucdata")
action(type="omfile" file="{output}" template="fields")
"""


def rsyslog_unavailable(tls: bool) -> str | None:
    if shutil.which("rsyslogd") is None:
        return "rsyslogd is not installed (Debian package rsyslog; devtools/system-deps.sh)"
    if tls and not any(
        glob.glob(f"{lib}/rsyslog/lmnsd_gtls.so") for lib in ("/usr/lib/*", "/usr/lib", "/usr/lib64")
    ):
        return "rsyslog's TLS driver is not installed (Debian package rsyslog-gnutls)"
    return None


@dataclass
class _Process:
    """A receiver run as a process of its own (devtools/standins.py starts and stops it)."""

    workdir: Path
    process: StandIn | None = field(default=None, kw_only=True)

    @property
    def port(self) -> int:
        assert self.process is not None
        return self.process.port

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@dataclass
class Rsyslog(_Process):
    """A private rsyslogd: plain TCP, or TLS with ``pki``'s server certificate."""

    pki: Pki | None = None

    @property
    def output(self) -> Path:
        return self.workdir / "messages.jsonl"

    def start(self) -> Rsyslog:
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        tls_global = tls_module = ""
        if self.pki is not None:
            tls_global = (
                f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{self.pki.ca_path}"'
                f' defaultNetstreamDriverCertFile="{self.pki.cert_path}"'
                f' defaultNetstreamDriverKeyFile="{self.pki.key_path}"'
            )
            tls_module = ' streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"'
        conf = self.workdir / "rsyslog.conf"
        settings = {"workdir": self.workdir, "port": port, "output": self.output}
        conf.write_text(_RSYSLOG_CONF.format(**settings, tls_global=tls_global, tls_module=tls_module))
        argv = ["rsyslogd", "-n", "-f", str(conf), "-i", str(self.workdir / "rsyslogd.pid")]
        self.process = _launch("rsyslog", argv, self.workdir, port, lambda _: True, timeout=20)
        return self

    def records(self, stream_id: str | None = None) -> list[dict[str, Any]]:
        """Every message rsyslog wrote, in arrival order, with ``sd`` parsed (``{SD-ID: params}``);
        only the given stream's if ``stream_id``."""
        if not self.output.exists():
            return []
        records = []
        for line in self.output.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            record["sd"] = json.loads(record["sd"]) if record["sd"] else {}
            params = next(iter(record["sd"].values()), {})
            if stream_id is None or params.get("stream") == stream_id:
                records.append(record)
        return records

    def wait_for(self, stream_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The stream's records once there are ``count`` (and still ``count`` a moment later)."""
        deadline = time.monotonic() + timeout
        while len(self.records(stream_id)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a duplicate would have arrived by now
        return self.records(stream_id)


# -- a test PKI ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_path: Path
    cert_path: Path
    key_path: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_path.read_text()


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(directory: Path, server_name: str = "localhost") -> Pki:
    """A fresh CA and a server certificate it signed for ``server_name`` (a DNS name only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def builder(subject: str, public_key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("auditlog test CA"))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca = (
        builder("auditlog test CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        builder(server_name, key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pki.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


# -- Cloud Storage ------------------------------------------------------------------------------

_GCS_LAUNCHER = '''
"""gcp-storage-emulator, with uploads honouring ifGenerationMatch (the emulator ignores it)."""
import sys
from http import HTTPStatus

from gcp_storage_emulator import server
from gcp_storage_emulator.__main__ import main
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

shipped = objects.insert
NOT_MET = "At least one of the pre-conditions you specified did not hold."


def _object_name(request):
    if "name" in request.query:
        return request.query["name"][0]
    data = request.data
    if request.query.get("uploadType", [""])[0] == "multipart":
        return data["meta"].get("name")
    return data.get("name") if isinstance(data, dict) else None


def insert(request, response, storage, *args, **kwargs):
    wanted = request.query.get("ifGenerationMatch")
    name = _object_name(request) if wanted else None
    if name is not None:
        try:
            current = str(storage.get_file_obj(request.params["bucket_name"], name)["generation"])
        except NotFound:
            current = "0"
        if current != wanted[0]:
            response.status = HTTPStatus.PRECONDITION_FAILED
            reason = {"domain": "global", "reason": "conditionNotMet", "message": NOT_MET}
            response.json({"error": {"code": 412, "message": NOT_MET, "errors": [reason]}})
            return None
    return shipped(request, response, storage, *args, **kwargs)


objects.insert = insert
for _, handlers in server.HANDLERS:
    for method, handler in list(handlers.items()):
        if handler is shipped:
            handlers[method] = insert
main(sys.argv[1:])
'''


def gcs_emulator_unavailable() -> str | None:
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        return "gcp-storage-emulator is not installed (requirements-dev.txt)"
    return None


@dataclass
class GcsEmulator(_Process):
    @property
    def endpoint(self) -> str:
        """What STORAGE_EMULATOR_HOST takes."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GcsEmulator:
        self.workdir.mkdir(parents=True, exist_ok=True)
        launcher = self.workdir / "gcs_emulator.py"
        launcher.write_text(_GCS_LAUNCHER)
        port = free_port()
        argv = [sys.executable, str(launcher), "start", "--host", "127.0.0.1", "--port", str(port)]
        ready = partial(_answers, f"http://127.0.0.1:{port}/")
        self.process = _launch("gcs", [*argv, "--in-memory", "--quiet"], self.workdir, port, ready, 30)
        return self


def _answers(url: str, _log: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


# -- Splunk HTTP Event Collector ----------------------------------------------------------------


_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _hec(status: int, code: int, text: str, **more: Any) -> JSONResponse:
    return JSONResponse({"text": text, "code": code, **more}, status_code=status)


def _valid_fields(fields: Any) -> bool:
    """Indexed fields: an object of strings or numbers, or arrays of those; no nested objects."""
    flat = (str, int, float)
    return isinstance(fields, dict) and all(
        isinstance(v, flat) or (isinstance(v, list) and all(isinstance(x, flat) for x in v))
        for v in fields.values()
    )


def _valid_time(value: Any) -> bool:
    """Epoch seconds, as a number or a numeric string."""
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@dataclass
class SplunkHecReceiver:
    """An HTTP Event Collector as Splunk documents it, for one token.

    Pages relied on (Splunk Enterprise "Get Data In"): "Format events for HTTP Event Collector"
    (help.splunk.com/en/splunk-enterprise/get-data-in/collect-http-event-data/
    format-events-for-http-event-collector), "HTTP Event Collector REST API endpoints" (same
    folder, http-event-collector-rest-api-endpoints), "Troubleshoot HTTP Event Collector" (same
    folder, troubleshoot-http-event-collector: the status codes) and "About HTTP Event Collector
    Indexer Acknowledgment" (docs.splunk.com/Documentation/Splunk/9.3.0/Data/AboutHECIDXAck).
    The facts used:
    - ``POST /services/collector/event`` (also ``/services/collector`` and ``.../event/1.0``)
      with ``Authorization: Splunk <token>``; a body of one or more JSON event objects, simply
      concatenated (whitespace between them allowed); each has ``event`` (required, not blank)
      and optionally ``time`` (epoch seconds, decimals allowed), ``host``, ``source``,
      ``sourcetype``, ``index`` and ``fields`` (flat indexed fields).
    - Success: HTTP 200 ``{"text":"Success","code":0}``, plus ``"ackId": n`` with useACK.
    - Errors (HTTP status, code, text): 403/1 Token disabled, 401/2 Token is required, 401/3
      Invalid authorization, 403/4 Invalid token, 400/5 No data, 400/6 Invalid data format (with
      ``invalid-event-number``), 400/7 Incorrect index, 503/9 Server is busy, 400/10 Data channel
      is missing, 400/11 Invalid data channel, 400/12 Event field is required, 400/13 Event field
      cannot be blank, 400/14 ACK is disabled, 400/15 Error in handling indexed fields.
    - With useACK, every request names a channel (a GUID) in ``X-Splunk-Request-Channel`` (or
      the ``channel`` query parameter); ack ids count per channel from 0;
      ``POST /services/collector/ack`` with ``{"acks": [ids]}`` answers
      ``{"acks": {"<id>": true|false}}``, true once those events are indexed.
    A batch with an invalid event is refused whole here (Splunk may have taken the events before
    it; the sender re-sends whole batches either way). ``index_delay`` is how long "indexing"
    takes (``math.inf``: never), ``busy`` answers 503/9, ``disabled`` 403/1.
    """

    token: str
    use_ack: bool = False
    allowed_indexes: frozenset[str] | None = None
    busy: bool = False
    disabled: bool = False
    index_delay: float = 0.0
    port: int = field(default_factory=free_port)
    events: list[dict[str, Any]] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)  # the channel of each accepted request
    ack_queries: int = 0
    _indexed_at: dict[tuple[str, int], float] = field(default_factory=dict)
    _next_ack: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _refusal(self, request: Request) -> JSONResponse | None:
        """Authorization, availability and channel, in that order."""
        header = request.headers.get("authorization")
        if header is None:
            return _hec(401, 2, "Token is required")
        scheme, _, token = header.partition(" ")
        if scheme != "Splunk" or not token:
            return _hec(401, 3, "Invalid authorization")
        if token != self.token:
            return _hec(403, 4, "Invalid token")
        if self.disabled:
            return _hec(403, 1, "Token disabled")
        if self.busy:
            return _hec(503, 9, "Server is busy")
        channel = request.headers.get("x-splunk-request-channel") or request.query_params.get("channel")
        if self.use_ack and channel is None:
            return _hec(400, 10, "Data channel is missing")
        if channel is not None and not _GUID.fullmatch(channel):
            return _hec(400, 11, "Invalid data channel")
        return None

    def _parse(self, body: str) -> list[dict[str, Any]] | JSONResponse:
        decoder, events, at = json.JSONDecoder(), [], 0
        while True:
            while at < len(body) and body[at].isspace():
                at += 1
            if at == len(body):
                return events if events else _hec(400, 5, "No data")
            number = len(events)
            try:
                event, at = decoder.raw_decode(body, at)
            except json.JSONDecodeError:
                return _hec(400, 6, "Invalid data format", **{"invalid-event-number": number})
            if not isinstance(event, dict) or not _valid_time(event.get("time", 0)):
                return _hec(400, 6, "Invalid data format", **{"invalid-event-number": number})
            if "event" not in event:
                return _hec(400, 12, "Event field is required", **{"invalid-event-number": number})
            if event["event"] in ("", None):
                return _hec(400, 13, "Event field cannot be blank", **{"invalid-event-number": number})
            if self.allowed_indexes is not None and event.get("index", "main") not in self.allowed_indexes:
                return _hec(400, 7, "Incorrect index", **{"invalid-event-number": number})
            if "fields" in event and not _valid_fields(event["fields"]):
                return _hec(400, 15, "Error in handling indexed fields", **{"invalid-event-number": number})
            events.append(event)

    async def _event(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        parsed = self._parse((await request.body()).decode("utf-8", errors="replace"))
        if isinstance(parsed, JSONResponse):
            return parsed
        channel = request.headers.get("x-splunk-request-channel") or request.query_params.get("channel")
        with self._lock:
            self.events.extend(parsed)
            self.channels.append(channel or "")
            if not self.use_ack or channel is None:
                return _hec(200, 0, "Success")
            ack_id = self._next_ack.get(channel, 0)
            self._next_ack[channel] = ack_id + 1
            self._indexed_at[(channel, ack_id)] = time.monotonic() + self.index_delay
        return _hec(200, 0, "Success", ackId=ack_id)

    async def _ack(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if not self.use_ack:
            return _hec(400, 14, "ACK is disabled")
        channel = request.headers.get("x-splunk-request-channel") or request.query_params.get("channel", "")
        try:
            ids = json.loads(await request.body())["acks"]
            assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
        except (ValueError, KeyError, TypeError, AssertionError):
            return _hec(400, 6, "Invalid data format")
        now = time.monotonic()
        with self._lock:
            self.ack_queries += 1
            done = {str(i): self._indexed_at.get((channel, i), math.inf) <= now for i in ids}
        return JSONResponse({"acks": done})

    def start(self) -> SplunkHecReceiver:
        paths = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
        routes = [Route(path, self._event, methods=["POST"]) for path in paths]
        routes.append(Route("/services/collector/ack", self._ack, methods=["POST"]))
        config = uvicorn.Config(
            Starlette(routes=routes), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
