"""The Merkle module against RFC 9162's recursive definitions, written out here independently,
and against pymerkle's roots."""

from __future__ import annotations

import hashlib

import pymerkle
import pytest

from auditlog.ledger import merkle

pytestmark = pytest.mark.unit


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, over leaf *inputs*."""
    n = len(d)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + d[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return _h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*rfc_path(m, d[:k]), mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), mth(d[:k])]


LEAVES = [f"leaf-{i}".encode() for i in range(40)]


def stored(n: int) -> tuple[merkle.Frontier, dict[merkle.NodeId, bytes]]:
    frontier, nodes = merkle.Frontier.empty(), {}
    # Grown in uneven steps, as the sequencer does.
    i = 0
    step = 1
    while i < n:
        frontier, new = frontier.append(merkle.leaf_hash(x) for x in LEAVES[i : min(n, i + step)])
        nodes.update(new)
        i = min(n, i + step)
        step = step % 5 + 1
    return frontier, nodes


@pytest.mark.parametrize("n", range(0, 41))
def test_root_matches_the_rfc_definition_and_pymerkle(n: int) -> None:
    frontier, nodes = stored(n)
    assert frontier.size == n
    assert frontier.root() == mth(LEAVES[:n])
    assert merkle.root_from_nodes(n, merkle.source(nodes)) == mth(LEAVES[:n])
    assert merkle.root([merkle.leaf_hash(x) for x in LEAVES[:n]]) == mth(LEAVES[:n]), "level by level"
    if n:
        tree = pymerkle.InmemoryTree(algorithm="sha256")
        for leaf in LEAVES[:n]:
            tree.append_entry(leaf)
        assert tree.get_root(n) == frontier.root()


@pytest.mark.parametrize("n", range(1, 34))
def test_inclusion_proofs_are_the_rfc_paths_and_verify(n: int) -> None:
    frontier, nodes = stored(n)
    root = frontier.root()
    for m in range(n):
        proof = merkle.inclusion_proof(m, n, merkle.source(nodes))
        assert proof == rfc_path(m, LEAVES[:n])
        leaf = merkle.leaf_hash(LEAVES[m])
        assert merkle.verify_inclusion(m, n, leaf, proof, root)
        assert not merkle.verify_inclusion(m, n, merkle.leaf_hash(b"other"), proof, root)
        if n > 1:
            assert not merkle.verify_inclusion((m + 1) % n, n, leaf, proof, root)
            assert not merkle.verify_inclusion(m, n, leaf, proof[:-1], root)
            assert not merkle.verify_inclusion(m, n, leaf, [*proof, root], root)
            bent = [bytes(32), *proof[1:]]
            assert not merkle.verify_inclusion(m, n, leaf, bent, root)


@pytest.mark.parametrize("n", range(1, 34))
def test_consistency_proofs_are_the_rfc_subproofs_and_verify(n: int) -> None:
    _, nodes = stored(n)
    second_root = mth(LEAVES[:n])
    for m in range(0, n + 1):
        proof = merkle.consistency_proof(m, n, merkle.source(nodes))
        expected = [] if m in (0, n) else rfc_subproof(m, LEAVES[:n], True)
        assert proof == expected
        first_root = mth(LEAVES[:m])
        assert merkle.verify_consistency(m, n, first_root, second_root, proof)
        if 0 < m < n:
            assert not merkle.verify_consistency(m, n, _h(b"x"), second_root, proof)
            assert not merkle.verify_consistency(m, n, first_root, _h(b"x"), proof)
            assert not merkle.verify_consistency(m, n, first_root, second_root, proof[:-1])
            if m > 1:
                assert not merkle.verify_consistency(m - 1, n, first_root, second_root, proof)


def test_required_nodes_lists_exactly_what_a_proof_reads() -> None:
    _, nodes = stored(37)
    wanted = merkle.required_nodes(lambda node: merkle.inclusion_proof(20, 37, node))
    subset = {k: nodes[k] for k in wanted}
    assert merkle.inclusion_proof(20, 37, merkle.source(subset)) == rfc_path(20, LEAVES[:37])
    assert len(wanted) < 12
    with pytest.raises(LookupError):
        merkle.inclusion_proof(21, 37, merkle.source(subset))


def test_out_of_range_requests_are_refused() -> None:
    _, nodes = stored(5)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(5, 5, merkle.source(nodes))
    with pytest.raises(ValueError):
        merkle.consistency_proof(6, 5, merkle.source(nodes))
