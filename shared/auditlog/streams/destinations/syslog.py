"""Syslog: one RFC 5424 message per leaf over TCP, framed by octet counting (RFC 6587 §3.4.1,
``<length> <message>``), in TLS per RFC 5425 when ``tls`` (the server verified against
``ca_cert`` if given, else the system's trust store, with its host name checked).

A message: ``<PRI>1 TIMESTAMP HOSTNAME auditlog - MSGID [auditlog@32473 ...] BOM MSG``.
- PRI: facility 13 ("log audit", RFC 5424 §6.2.1) with a severity from the event's status:
  denied 4 (warning), failure 5 (notice), anything else 6 (informational), hash-only leaves too.
- TIMESTAMP: the event's own time (now for hash-only leaves); HOSTNAME: this service's host name.
- MSGID: the event type (``leaf`` for hash-only leaves), printable ASCII, at most 32 characters.
- STRUCTURED-DATA: one element, ``auditlog@32473``, with tenant, stream, leaf, hash, audit_id
  (and omitted for hash-only leaves); values escaped per RFC 5424 §6.3.3. 32473 is the Private
  Enterprise Number that RFC 5612 reserves for documentation: a deployment that registers its
  own PEN changes ``SD_ID`` (receivers' parsers key on it).
- MSG: a UTF-8 BOM and the rendered event: compact JSON for json and ocsf, the CEF line for cef,
  the JSON of ``item.as_json`` for hash-only leaves.

TCP syslog has no application acknowledgement. A batch goes on a connection of its own: every
frame is written, then the sender closes its sending side (TLS: close_notify; TCP: FIN) and waits
for the receiver to close too. A receiver closes only after reading up to that close, so a
clean end of stream means it read every frame; a reset or a timeout is a failure, and the whole
batch is sent again (at least once: receivers drop repeats by stream and leaf).
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from auditlog.model.event import parse_rfc3339
from auditlog.streams.addresses import AddressRefused, check_host
from auditlog.streams.batch import Batch, Item
from auditlog.streams.destinations import Context, DeliveryError
from auditlog.streams.model import SyslogDestination

FACILITY = 13  # log audit
SEVERITY = {"denied": 4, "failure": 5}  # warning, notice; the rest: 6, informational
INFORMATIONAL = 6
SD_ID = "auditlog@32473"  # 32473: the documentation PEN (RFC 5612)
APP_NAME = "auditlog"
BOM = b"\xef\xbb\xbf"
_SD_ESCAPE = re.compile(r'(["\\\]])')
_NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")
_CEF_FIELD = re.compile(r"(?<!\\)\|")


def refusal(exc: AddressRefused) -> DeliveryError:
    """A refused address: permanent (the destination must change) unless the name did not resolve,
    which may pass."""
    return DeliveryError(f"destination refused: {exc}", permanent="does not resolve" not in str(exc))


# -- what an event says about itself ------------------------------------------------------------


def _cef_parts(line: str) -> tuple[list[str], str]:
    """A CEF line's seven header fields and its extension (best effort: unescaped pipes split)."""
    fields = _CEF_FIELD.split(line, maxsplit=7)
    return fields[:7], fields[7] if len(fields) > 7 else ""


def _cef_value(extension: str, key: str) -> str | None:
    found = re.search(rf"(?:^|\s){key}=(\S+)", extension)
    return found.group(1) if found else None


def event_time(rendered: dict[str, Any] | str | None) -> datetime | None:
    """The event's time (aware, UTC): json's ``timestamp``, OCSF's ``time`` (epoch ms), CEF's ``rt``
    (epoch ms); None when it has none (hash-only leaves) or it cannot be read."""
    millis: Any = None
    if isinstance(rendered, dict):
        stamp = rendered.get("timestamp")
        if isinstance(stamp, str):
            try:
                return parse_rfc3339(stamp).replace(tzinfo=UTC)
            except ValueError:
                pass
        millis = rendered.get("time")
    elif isinstance(rendered, str):
        millis = _cef_value(_cef_parts(rendered)[1], "rt")
    try:
        if millis is not None and not isinstance(millis, bool):
            return datetime.fromtimestamp(float(millis) / 1000.0, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    return None


def _type_and_status(rendered: dict[str, Any] | str) -> tuple[str, str]:
    """The event type and status: json's fields, OCSF's ``metadata.event_code`` and
    ``status_detail`` or ``status`` (denied is Failure with detail denied), CEF's signature ID
    and ``outcome``."""
    if isinstance(rendered, str):
        fields, extension = _cef_parts(rendered)
        return (fields[4] if len(fields) > 4 else "event"), _cef_value(extension, "outcome") or ""
    metadata = rendered.get("metadata")
    code = metadata.get("event_code") if isinstance(metadata, dict) else None
    status = rendered.get("status_detail") or rendered.get("status") or ""
    return str(rendered.get("event_type") or code or "event"), str(status)


# -- the message --------------------------------------------------------------------------------


def _sd_value(value: object) -> str:
    return _SD_ESCAPE.sub(r"\\\1", str(value))


def _printable(value: str, limit: int) -> str:
    return _NOT_PRINTABLE.sub("_", value)[:limit] or "-"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def structured_data(batch: Batch, item: Item) -> str:
    params: dict[str, object] = {
        "tenant": batch.tenant_id,
        "stream": batch.stream_id,
        "leaf": item.leaf_index,
        "hash": item.leaf_hash,
        "audit_id": item.audit_id,
    }
    if item.omitted is not None:
        params["omitted"] = item.omitted
    return "[" + SD_ID + "".join(f' {name}="{_sd_value(value)}"' for name, value in params.items()) + "]"


def message(batch: Batch, item: Item, hostname: str) -> bytes:
    """The RFC 5424 message for one leaf (without its frame)."""
    rendered = item.rendered
    if rendered is None:
        msgid, severity, text = "leaf", INFORMATIONAL, orjson.dumps(item.as_json(batch.tenant_id))
    else:
        event_type, status = _type_and_status(rendered)
        msgid, severity = event_type, SEVERITY.get(status.lower(), INFORMATIONAL)
        text = rendered.encode() if isinstance(rendered, str) else orjson.dumps(rendered)
    moment = event_time(rendered) or datetime.now(UTC)
    header = (
        f"<{FACILITY * 8 + severity}>1 {_timestamp(moment)} {hostname} {APP_NAME} - "
        f"{_printable(msgid, 32)} {structured_data(batch, item)} "
    )
    return header.encode() + BOM + text


def frame(msg: bytes) -> bytes:
    """Octet counting (RFC 6587 §3.4.1): the message's length in bytes, a space, the message."""
    return b"%d " % len(msg) + msg


def host_name() -> str:
    """RFC 5424 prefers a FQDN; the host name is what this instance knows without a DNS lookup."""
    return _printable(socket.gethostname(), 255)


# -- the sender ---------------------------------------------------------------------------------


def tls_context(ca_cert: str | None) -> ssl.SSLContext:
    """Verifies the server's certificate and name: against ``ca_cert`` (PEM) or the system store."""
    try:
        context = ssl.create_default_context(cadata=ca_cert) if ca_cert else ssl.create_default_context()
    except (ssl.SSLError, ValueError) as exc:
        detail = f"the destination's ca_cert is not a usable PEM CA: {exc}"
        raise DeliveryError(detail, permanent=True) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _drain(conn: socket.socket, deadline: float) -> None:
    """Wait for the receiver to close its side; anything it sends before is ignored."""
    while True:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        if not conn.recv(4096):
            return


def _close_sending(conn: socket.socket, deadline: float) -> None:
    """Close our side (TLS: close_notify, then FIN) and wait until the receiver closes its own."""
    if isinstance(conn, ssl.SSLSocket):
        try:
            conn = conn.unwrap()  # sends close_notify; returns on the peer's close_notify
        except ssl.SSLEOFError:
            return  # the peer read up to our close_notify and closed the connection cleanly
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS shutdown failed: {exc}") from None
    conn.shutdown(socket.SHUT_WR)
    _drain(conn, deadline)


class SyslogSender:
    """One connection per batch: written, half-closed, and confirmed closed by the receiver."""

    def __init__(self, config: SyslogDestination, context: Context) -> None:
        self._host = config.host
        self._port = config.port
        self._context = context
        self._tls = tls_context(config.ca_cert) if config.tls else None
        self._hostname = host_name()

    def deliver(self, batch: Batch) -> None:
        try:
            check_host(self._host, self._port, self._context.allow_private_addresses)
        except AddressRefused as exc:
            raise refusal(exc) from None
        frames = b"".join(frame(message(batch, item, self._hostname)) for item in batch.items)
        deadline = time.monotonic() + self._context.timeout_seconds
        try:
            with self._connect() as conn:
                conn.sendall(frames)
                _close_sending(conn, deadline)
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"syslog server certificate refused: {exc.verify_message}") from None
        except (OSError, ssl.SSLError) as exc:  # refused, reset, timed out
            raise DeliveryError(f"syslog {self._host}:{self._port}: {type(exc).__name__}: {exc}") from None

    def _connect(self) -> socket.socket:
        conn = socket.create_connection((self._host, self._port), timeout=self._context.timeout_seconds)
        if self._tls is None:
            return conn
        try:
            return self._tls.wrap_socket(conn, server_hostname=self._host)
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        """Nothing held between batches."""
