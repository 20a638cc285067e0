"""GCP integrity log: Firestore, with the tree stored in tiles.

Documents (collections prefixed ``auditlog_integrity_``; ``tid`` is a hash of the tenant id, so
any tenant id makes a valid document id):

``trees/{tid}``
    ``size`` and ``frontier`` (hex). Its update time is the compare-and-swap token: a round
    commits with a ``last_update_time`` precondition, so concurrent writer instances never
    interleave indices and nobody holds a lock (transactions contending on one document stall in
    the emulator and serialise badly in production).
``staged/{tid}_{key}``
    one per written batch: ``ids``, ``hashes``, ``expires``, ``integrated`` and, once integrated,
    ``first_index``. Kept after integration: a redelivered message finds its key and stages
    nothing, and ``ids`` (array-contains) locates an event's leaf index.
``tiles/{tid}_{level}_{tile}``
    up to 256 perfect-subtree hashes of one level (the layout of Tessera's tiles); level-0 tiles
    also hold each leaf's audit id and expiry.
``checkpoints/{tid}_{timestamp}``
    every signed checkpoint.

A round is one atomic WriteBatch: the tree (with its precondition), the touched tiles and the
integrated staged documents, at most ~400 writes (``MAX_ROUND_*`` in ``integrity``).

Composite indexes this needs on real Firestore (the emulator needs none; Terraform creates them):
staged (tenant_id, integrated, staged_at), staged (tenant_id, ids array-contains; also serves
array-contains-any),
checkpoints (tenant_id, timestamp desc), checkpoints (tenant_id, final, timestamp desc),
checkpoints (tenant_id, tree_size, timestamp desc).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition, NotFound
from google.cloud import firestore

from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.leaves import LeafEntry, SpineLeaf, StagedBatch, StagedInput
from auditlog.ledger.merkle import Frontier, NodeId
from auditlog.ledger.tree import spine_columns
from auditlog.ports.integrity import TreeState

TILE = 256


def _tid(tenant_id: str) -> str:
    return hashlib.sha256(tenant_id.encode()).hexdigest()[:32]


class FirestoreIntegrityStore:
    def __init__(self, client: firestore.Client, prefix: str = "auditlog_integrity") -> None:
        self._client = client
        self._trees = client.collection(f"{prefix}_trees")
        self._staged = client.collection(f"{prefix}_staged")
        self._tiles = client.collection(f"{prefix}_tiles")
        self._checkpoints = client.collection(f"{prefix}_checkpoints")

    # -- staging ---------------------------------------------------------------------------

    def stage(self, batches: list[StagedInput]) -> None:
        for tenant_id, key, entries in batches:
            # AlreadyExists: a redelivered batch, staged (and maybe integrated) before.
            with contextlib.suppress(AlreadyExists):
                self._staged.document(f"{_tid(tenant_id)}_{key}").create(
                    {
                        "tenant_id": tenant_id,
                        "key": key,
                        "ids": [e.audit_id for e in entries],
                        "hashes": [e.leaf_hash.hex() for e in entries],
                        "expires": [e.expires for e in entries],
                        "integrated": False,
                        "staged_at": firestore.SERVER_TIMESTAMP,
                    }
                )

    def pending(self, tenant_id: str, max_batches: int) -> list[StagedBatch]:
        query = (
            self._staged.where(filter=firestore.FieldFilter("tenant_id", "==", tenant_id))
            .where(filter=firestore.FieldFilter("integrated", "==", False))
            .order_by("staged_at")
            .limit(max_batches)
        )
        out = []
        for snap in query.stream():
            d = snap.to_dict() or {}
            entries = tuple(
                LeafEntry(a, bytes.fromhex(h), x)
                for a, h, x in zip(d["ids"], d["hashes"], d["expires"], strict=True)
            )
            staged_at = d.get("staged_at")
            out.append(StagedBatch(d["key"], entries, staged_at.timestamp() if staged_at else None))
        return out

    def pending_tenants(self) -> list[str]:
        query = self._staged.where(filter=firestore.FieldFilter("integrated", "==", False)).limit(1000)
        return sorted({(s.to_dict() or {})["tenant_id"] for s in query.stream()})

    def tenants(self) -> list[str]:
        return [(s.to_dict() or {})["tenant_id"] for s in self._trees.stream()]

    # -- the tree --------------------------------------------------------------------------

    def state(self, tenant_id: str) -> TreeState:
        snap = self._trees.document(_tid(tenant_id)).get()
        if not snap.exists:
            return TreeState(Frontier.empty(), None)
        d = snap.to_dict() or {}
        return TreeState(
            Frontier(int(d["size"]), tuple(bytes.fromhex(h) for h in d["frontier"])), snap.update_time
        )

    def _tile_ref(self, tenant_id: str, level: int, tile: int) -> Any:
        return self._tiles.document(f"{_tid(tenant_id)}_{level}_{tile}")

    def _tiles_for(self, tenant_id: str, keys: set[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
        refs = {self._tile_ref(tenant_id, lv, t).path: (lv, t) for lv, t in keys}
        found: dict[tuple[int, int], dict[str, Any]] = {}
        if not refs:
            return found
        docs = self._client.get_all([self._tile_ref(tenant_id, lv, t) for lv, t in keys])
        for snap in docs:
            if snap.exists:
                found[refs[snap.reference.path]] = snap.to_dict() or {}
        return found

    def nodes(self, tenant_id: str, ids: set[NodeId]) -> dict[NodeId, bytes]:
        tiles = self._tiles_for(tenant_id, {(lv, i // TILE) for lv, i in ids})
        out: dict[NodeId, bytes] = {}
        for lv, i in ids:
            hashes = tiles.get((lv, i // TILE), {}).get("hashes", [])
            if i % TILE < len(hashes):
                out[(lv, i)] = bytes.fromhex(hashes[i % TILE])
        return out

    def commit(
        self,
        tenant_id: str,
        expected: TreeState,
        frontier: Frontier,
        nodes: dict[NodeId, bytes],
        leaves: list[SpineLeaf],
        integrated: list[tuple[str, int]],
    ) -> bool:
        touched = {(lv, i // TILE) for lv, i in nodes}
        tiles = self._tiles_for(tenant_id, touched)
        by_tile: dict[tuple[int, int], list[tuple[int, bytes]]] = defaultdict(list)
        for (lv, i), h in nodes.items():
            by_tile[(lv, i // TILE)].append((i % TILE, h))
        leaf_info = {x.index: x for x in leaves}
        batch = self._client.batch()
        tree_doc = {
            "tenant_id": tenant_id,
            "size": frontier.size,
            "frontier": [h.hex() for h in frontier.hashes],
        }
        tree_ref = self._trees.document(_tid(tenant_id))
        if expected.version is None:
            batch.create(tree_ref, tree_doc)
        else:
            batch.update(
                tree_ref, tree_doc, option=self._client.write_option(last_update_time=expected.version)
            )
        for (lv, t), items in by_tile.items():
            doc = tiles.get((lv, t), {"hashes": []})
            hashes: list[str] = list(doc.get("hashes", []))
            ids: list[str] = list(doc.get("ids", []))
            expires: list[str] = list(doc.get("expires", []))
            for offset, h in sorted(items):
                if offset != len(hashes):  # tiles only ever grow at their end
                    return False
                hashes.append(h.hex())
                if lv == 0:
                    info = leaf_info[t * TILE + offset]
                    ids.append(info.audit_id)
                    expires.append(info.expires)
            new = {"hashes": hashes} if lv else {"hashes": hashes, "ids": ids, "expires": expires}
            batch.set(self._tile_ref(tenant_id, lv, t), new)
        for key, first in integrated:
            batch.update(
                self._staged.document(f"{_tid(tenant_id)}_{key}"),
                {"integrated": True, "first_index": first},
            )
        try:
            batch.commit()
        except (FailedPrecondition, AlreadyExists, Conflict, NotFound):
            return False
        return True

    def locate(self, tenant_id: str, audit_id: str) -> int | None:
        return self.locate_many(tenant_id, [audit_id]).get(audit_id)

    def locate_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, int]:
        # array-contains-any takes up to 30 values per query; each batch document found then
        # says, from its own ids, which of them it holds and at which offset.
        found: dict[str, int] = {}
        for start in range(0, len(audit_ids), 30):
            wanted = set(audit_ids[start : start + 30])
            query = self._staged.where(filter=firestore.FieldFilter("tenant_id", "==", tenant_id)).where(
                filter=firestore.FieldFilter("ids", "array_contains_any", sorted(wanted))
            )
            for snap in query.stream():
                d = snap.to_dict() or {}
                if not d.get("integrated") or d.get("first_index") is None:
                    continue
                for offset, audit_id in enumerate(d["ids"]):
                    if audit_id in wanted:
                        found[audit_id] = int(d["first_index"]) + offset
        return found

    def leaves(self, tenant_id: str, start: int, end: int) -> list[SpineLeaf]:
        if start >= end:
            return []
        tiles = self._tiles_for(tenant_id, {(0, t) for t in range(start // TILE, (end - 1) // TILE + 1)})
        out = []
        for i in range(start, end):
            doc = tiles.get((0, i // TILE))
            if doc is None or i % TILE >= len(doc.get("hashes", [])):
                break
            o = i % TILE
            out.append(SpineLeaf(i, doc["ids"][o], bytes.fromhex(doc["hashes"][o]), doc["expires"][o]))
        return out

    def spine(self, tenant_id: str, start: int, end: int) -> tuple[list[str], list[bytes]]:
        return spine_columns(self.leaves(tenant_id, start, end))

    # -- checkpoints -----------------------------------------------------------------------

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._checkpoints.document(f"{_tid(checkpoint.tenant_id)}_{checkpoint.timestamp}").set(
            checkpoint.as_dict()
        )

    def _newest(self, query: Any) -> Checkpoint | None:
        for snap in query.order_by("timestamp", direction=firestore.Query.DESCENDING).limit(1).stream():
            return Checkpoint.from_dict(snap.to_dict() or {})
        return None

    def latest_checkpoint(self, tenant_id: str, *, final: bool = False) -> Checkpoint | None:
        query = self._checkpoints.where(filter=firestore.FieldFilter("tenant_id", "==", tenant_id))
        if final:
            query = query.where(filter=firestore.FieldFilter("final", "==", True))
        return self._newest(query)

    def checkpoint_at(self, tenant_id: str, tree_size: int) -> Checkpoint | None:
        return self._newest(
            self._checkpoints.where(filter=firestore.FieldFilter("tenant_id", "==", tenant_id)).where(
                filter=firestore.FieldFilter("tree_size", "==", tree_size)
            )
        )

    def close(self) -> None:
        pass  # the client is shared with the state store, which closes it
