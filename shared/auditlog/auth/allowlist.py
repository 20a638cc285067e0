"""IP allowlists: which address a request comes from, and whether its tenant lets it in.

The caller's address. With no proxy in front of the service it is the socket peer. Behind proxies
(a load balancer, API Gateway) the peer is the last proxy, and each proxy appends the address it
received the request from to ``X-Forwarded-For``; whatever the client sent in that header stays
on the left. So with ``trusted_hops`` entries appended by our own infrastructure, the caller is the
``trusted_hops``-th entry from the RIGHT; every entry left of it is the client's to invent, and the
leftmost, the one most code reads, is the easiest to spoof.

``trusted_hops`` counts entries, not boxes: Google's external Application Load Balancer appends two
(``<client>,<load balancer>``; https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header),
so behind it alone the caller is the 2nd from the right.

When the header cannot say (no header, fewer entries than ``trusted_hops``, or the entry at that
place is not an address), ``client_address`` answers None, not the peer: behind a proxy the peer is
the proxy, and a proxy's address inside an allowed range would let anyone in. A None address is
refused by any non-empty allowlist and passes an empty one.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from auditlog.errors import FieldProblem, Forbidden

ADDRESS_FIELD = "ip_address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# `[v6]`, `[v6]:port` or `v4:port`, as some proxies write them.
_BRACKETED = re.compile(r"\[([^\]]+)\](?::\d{1,5})?")
_V4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")


def client_address(remote: str | None, forwarded_for: str | None, trusted_hops: int) -> str | None:
    """The caller's address, normalised (an IPv4-mapped IPv6 address as IPv4), or None.

    ``remote`` is the socket peer; ``forwarded_for`` the ``X-Forwarded-For`` value (several
    header lines joined with ``,``, as RFC 9110 section 5.3 allows); ``trusted_hops`` how many of
    its rightmost entries our own proxies appended. None when the address cannot be told (see the
    module docstring): with 0 hops, a peer that is not an IP address (a Unix socket, a test
    client); with N hops, a missing or too-short header, or an N-th entry that is not an address.
    """
    if trusted_hops < 0:
        raise ValueError(f"trusted_hops must not be negative, got {trusted_hops}")
    if trusted_hops == 0:
        candidate = remote
    else:
        entries = (forwarded_for or "").split(",")
        if not forwarded_for or len(entries) < trusted_hops:
            return None
        candidate = entries[-trusted_hops]
    address = _parse_address(candidate)
    return None if address is None else str(address)


def check_allowlist(address: str | None, cidrs: list[str]) -> None:
    """Raise ``Forbidden`` unless ``address`` is inside one of ``cidrs`` (an empty list allows
    any address, None included; a non-empty one refuses None). ``cidrs`` are normalised CIDRs as
    ``TenantPolicy`` keeps them; they are parsed once per distinct list."""
    if not cidrs:
        return
    parsed = _parse_address(address)
    if parsed is None:
        raise Forbidden(
            "this tenant accepts requests only from listed addresses, and this request's address "
            "cannot be told",
            [FieldProblem(ADDRESS_FIELD, "is unknown, so it is not in the tenant's IP allowlist")],
        )
    version, value = parsed.version, int(parsed)
    if not any(version == v and value & mask == net for v, net, mask in _ranges(tuple(cidrs))):
        raise Forbidden(
            f"this tenant does not accept requests from {parsed}",
            [FieldProblem(ADDRESS_FIELD, f"{parsed} is not in the tenant's IP allowlist")],
        )


def _parse_address(text: str | None) -> IPAddress | None:
    if text is None:
        return None
    text = text.strip()
    for pattern in (_BRACKETED, _V4_PORT):
        found = pattern.fullmatch(text)
        if found:
            text = found.group(1)
            break
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=1024)
def _ranges(cidrs: tuple[str, ...]) -> tuple[tuple[int, int, int], ...]:
    """``(version, network, netmask)`` as integers, so a check against 256 ranges is integer
    arithmetic (~25 us here) rather than ``ipaddress`` containment (~80 us). IPv4-mapped IPv6 ranges
    (inside ``::ffff:0:0/96``) become the IPv4 ranges they map, since mapped addresses are compared
    as IPv4; a wider IPv6 range such as ``::/0`` holds IPv6 callers only."""
    ranges: list[tuple[int, int, int]] = []
    for cidr in cidrs:
        network: IPNetwork = ipaddress.ip_network(cidr, strict=False)
        mapped = network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
        if mapped is not None and network.prefixlen >= 96:
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        ranges.append((network.version, int(network.network_address), int(network.netmask)))
    return tuple(ranges)
