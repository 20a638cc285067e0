"""Reading a tenant's tree from its integrity store: inclusion and consistency paths, roots at a
size, and the spine of leaves (RFC 9162 algorithms in ``merkle.py``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from auditlog.ledger import merkle
from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.leaves import SpineLeaf
from auditlog.ports.integrity import IntegrityStore


def inclusion(store: IntegrityStore, tenant_id: str, index: int, checkpoint: Checkpoint) -> list[bytes]:
    size = checkpoint.tree_size
    wanted = merkle.required_nodes(lambda node: merkle.inclusion_proof(index, size, node))
    return merkle.inclusion_proof(index, size, merkle.source(store.nodes(tenant_id, wanted)))


def inclusions(
    store: IntegrityStore, tenant_id: str, indices: list[int], checkpoint: Checkpoint
) -> dict[int, list[bytes]]:
    """The inclusion paths of many leaves, their nodes read from the store in one call (an
    export's chunk: one read instead of one per event)."""
    size = checkpoint.tree_size
    wanted: set[merkle.NodeId] = set()
    for index in indices:
        wanted |= merkle.required_nodes(functools.partial(merkle.inclusion_proof, index, size))
    nodes = merkle.source(store.nodes(tenant_id, wanted)) if wanted else merkle.source({})
    return {index: merkle.inclusion_proof(index, size, nodes) for index in indices}


def consistency(store: IntegrityStore, tenant_id: str, first: int, second: int) -> list[bytes]:
    wanted = merkle.required_nodes(lambda node: merkle.consistency_proof(first, second, node))
    return merkle.consistency_proof(first, second, merkle.source(store.nodes(tenant_id, wanted)))


def root_at(store: IntegrityStore, tenant_id: str, size: int) -> bytes:
    wanted = merkle.required_nodes(lambda node: merkle.root_from_nodes(size, node))
    return merkle.root_from_nodes(size, merkle.source(store.nodes(tenant_id, wanted)))


def iter_spine(store: IntegrityStore, tenant_id: str, size: int, chunk: int = 65_536) -> Iterator[SpineLeaf]:
    for start in range(0, size, chunk):
        yield from store.leaves(tenant_id, start, min(size, start + chunk))


def spine_columns(leaves: list[SpineLeaf]) -> tuple[list[str], list[bytes]]:
    """The audit ids and hashes of ``leaves``, as ``IntegrityStore.spine`` answers."""
    return [leaf.audit_id for leaf in leaves], [leaf.leaf_hash for leaf in leaves]


def read_spine(
    store: IntegrityStore, tenant_id: str, size: int, chunk: int = 262_144
) -> tuple[list[str], list[bytes]]:
    """The audit ids and leaf hashes of the first ``size`` leaves (fewer if the log holds fewer)."""
    ids: list[str] = []
    hashes: list[bytes] = []
    for start in range(0, size, chunk):
        more_ids, more_hashes = store.spine(tenant_id, start, min(size, start + chunk))
        ids += more_ids
        hashes += more_hashes
        if len(more_ids) < min(size, start + chunk) - start:
            break
    return ids, hashes
