"""The caller's address behind trusted proxies, and the tenant IP allowlist."""

from __future__ import annotations

import pytest

from auditlog.auth.allowlist import ADDRESS_FIELD, _ranges, check_allowlist, client_address
from auditlog.errors import Forbidden
from auditlog.model.policy import TenantPolicy

pytestmark = pytest.mark.unit


# -- client_address -----------------------------------------------------------------------------


def test_with_no_trusted_hops_the_caller_is_the_socket_peer_whatever_the_header_says() -> None:
    assert client_address("203.0.113.7", "10.0.0.1", 0) == "203.0.113.7"
    assert client_address("2001:db8::1", None, 0) == "2001:db8::1"
    assert client_address(None, "10.0.0.1", 0) is None
    assert client_address("testclient", None, 0) is None  # Starlette's TestClient peer


@pytest.mark.parametrize(
    ("header", "hops", "expected"),
    [
        ("203.0.113.7", 1, "203.0.113.7"),
        ("203.0.113.7, 198.51.100.2", 1, "198.51.100.2"),
        ("203.0.113.7, 198.51.100.2", 2, "203.0.113.7"),
        # a Google external load balancer appends "<client>,<load balancer>"
        ("203.0.113.7,130.211.0.5", 2, "203.0.113.7"),
        ("203.0.113.7 ,  130.211.0.5 ", 2, "203.0.113.7"),
    ],
)
def test_the_caller_is_the_nth_entry_from_the_right(header: str, hops: int, expected: str) -> None:
    assert client_address("35.191.0.1", header, hops) == expected


def test_spoofed_entries_on_the_left_are_ignored() -> None:
    # The client sent "X-Forwarded-For: 10.0.0.1, 127.0.0.1"; our one proxy appended what it saw.
    assert client_address("35.191.0.1", "10.0.0.1, 127.0.0.1, 203.0.113.7", 1) == "203.0.113.7"
    assert client_address("35.191.0.1", "10.0.0.1, 203.0.113.7, 130.211.0.5", 2) == "203.0.113.7"
    # Garbage the client put on the left does not matter either.
    assert client_address("35.191.0.1", "<script>, not-an-ip,, 203.0.113.7", 1) == "203.0.113.7"


@pytest.mark.parametrize(
    ("header", "hops"),
    [
        (None, 1),  # the header is missing: the request did not come through our proxy
        ("", 1),
        ("203.0.113.7", 2),  # shorter than the proxies we trust
        ("unknown", 1),  # RFC 7239-style placeholders
        ("_hidden, 203.0.113.7", 2),
        ("203.0.113.7,", 1),  # an empty last entry
        ("203.0.113.999", 1),
        ("010.0.0.1", 1),  # leading zeros: octal to some parsers, refused by ipaddress
        ("2001:db8::1::2", 1),
    ],
)
def test_a_header_that_cannot_say_gives_none_not_the_peer(header: str | None, hops: int) -> None:
    # The peer is our proxy; answering it would let the proxy's address stand for the caller.
    assert client_address("10.0.0.2", header, hops) is None


def test_ipv6_mapped_addresses_and_ports_are_normalised() -> None:
    assert client_address("::ffff:10.0.0.1", None, 0) == "10.0.0.1"
    assert client_address("x", "2001:DB8:0:0::1", 1) == "2001:db8::1"
    assert client_address("x", "[2001:db8::1]:443", 1) == "2001:db8::1"
    assert client_address("x", "[2001:db8::1]", 1) == "2001:db8::1"
    assert client_address("x", "[::ffff:203.0.113.7]:443", 1) == "203.0.113.7"
    assert client_address("x", "203.0.113.7:51234", 1) == "203.0.113.7"


def test_negative_hops_are_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        client_address("203.0.113.7", None, -1)


# -- check_allowlist ----------------------------------------------------------------------------


def test_an_empty_allowlist_allows_any_address_even_an_unknown_one() -> None:
    check_allowlist("203.0.113.7", [])
    check_allowlist("2001:db8::1", [])
    check_allowlist(None, [])


@pytest.mark.parametrize(
    ("address", "cidrs"),
    [
        ("10.1.2.3", ["10.0.0.0/8"]),
        ("203.0.113.7", ["192.0.2.0/24", "203.0.113.7/32"]),
        ("2001:db8:1::5", ["10.0.0.0/8", "2001:db8::/32"]),
        ("::ffff:10.0.0.1", ["10.0.0.0/8"]),  # an IPv4-mapped peer matches IPv4 ranges
        ("10.0.0.1", ["::ffff:10.0.0.0/104"]),  # and IPv4-mapped ranges hold IPv4 callers
        ("0.0.0.0", ["0.0.0.0/0"]),
        ("fe80::1%eth0", ["fe80::/10"]),
    ],
)
def test_addresses_inside_a_listed_range_pass(address: str, cidrs: list[str]) -> None:
    check_allowlist(address, cidrs)


@pytest.mark.parametrize(
    ("address", "cidrs"),
    [
        ("11.0.0.1", ["10.0.0.0/8"]),
        ("203.0.113.8", ["203.0.113.7/32"]),
        ("2001:db9::1", ["2001:db8::/32"]),
        ("10.0.0.1", ["::/0"]),  # an IPv6 range does not hold IPv4 callers
        ("2001:db8::1", ["0.0.0.0/0"]),
        ("::ffff:11.0.0.1", ["10.0.0.0/8"]),
    ],
)
def test_addresses_outside_every_range_are_refused_naming_the_address(address: str, cidrs: list[str]) -> None:
    with pytest.raises(Forbidden) as refused:
        check_allowlist(address, cidrs)
    assert refused.value.status == 403
    [detail] = refused.value.details
    assert detail.field == ADDRESS_FIELD == "ip_address"
    shown = address.removeprefix("::ffff:")
    assert shown in detail.problem and shown in refused.value.message
    assert cidrs[0] not in refused.value.message  # the list itself is not disclosed


@pytest.mark.parametrize("address", [None, "", "testclient", "999.0.0.1"])
def test_an_unknown_address_is_refused_by_a_non_empty_list(address: str | None) -> None:
    with pytest.raises(Forbidden) as refused:
        check_allowlist(address, ["0.0.0.0/0", "::/0"])
    assert [d.field for d in refused.value.details] == [ADDRESS_FIELD]
    assert "cannot be told" in refused.value.message


def test_policy_cidrs_are_parsed_once_per_list() -> None:
    cidrs = TenantPolicy(ip_allowlist=["10.0.0.0/8", "2001:db8::/32"]).ip_allowlist
    _ranges.cache_clear()
    for _ in range(5):
        check_allowlist("10.0.0.1", cidrs)
        check_allowlist("10.0.0.1", list(cidrs))  # an equal list from another policy object
    info = _ranges.cache_info()
    assert (info.misses, info.hits) == (1, 9)


def test_the_hop_rule_and_the_allowlist_together() -> None:
    cidrs = ["198.51.100.0/24"]
    # An outsider claims to be inside the range; our load balancer appended its real address.
    spoofed = client_address("35.191.0.1", "198.51.100.9, 203.0.113.7, 130.211.0.5", 2)
    with pytest.raises(Forbidden):
        check_allowlist(spoofed, cidrs)
    genuine = client_address("35.191.0.1", "198.51.100.9, 130.211.0.5", 2)
    check_allowlist(genuine, cidrs)
