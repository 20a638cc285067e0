"""Where a stream may deliver: public addresses only (no loopback, private, link-local, multicast
or reserved ones: a tenant admin must not make the service call into its own network), except
in development, where receivers run on this machine."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    pass


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, port: int, allow_private: bool) -> None:
    """Every address ``host`` resolves to is public (AddressRefused if one is not, or none)."""
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve: {exc}") from None
    refused = sorted({str(info[4][0]) for info in infos if not _public(str(info[4][0]))})
    if refused:
        raise AddressRefused(f"{host} resolves to a non-public address ({', '.join(refused)})")


def check_url(url: str, allow_private: bool) -> None:
    """An https URL (http too in development) whose host is public."""
    parts = urlsplit(url)
    if parts.scheme not in (("http", "https") if allow_private else ("https",)):
        raise AddressRefused("must be an https URL" + ("" if not allow_private else " (or http)"))
    if not parts.hostname:
        raise AddressRefused("has no host")
    if parts.username or parts.password:
        raise AddressRefused("must not carry credentials (use the destination's secret)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("has an invalid port") from None
    check_host(parts.hostname, port, allow_private)
