"""A tenant's tree as C2SP tlog-tiles (c2sp.org/tlog-tiles): hash tiles and entry bundles.

The tile at level ``L``, index ``N`` holds the hashes of the perfect subtrees at tree level
``8 * L`` with indices ``N * 256 .. N * 256 + W - 1``: exactly the nodes the integrity store keeps
(``merkle.py``), so a tile is one read of at most 256 of them. An entry bundle holds the same
leaves' committed records (the JCS bytes whose SHA-256 with the 0x00 prefix is the leaf hash),
each behind a big-endian uint16 length. Tiles are served up to the size of the newest
checkpoint; a full tile never changes, nor does a partial tile of a given width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from auditlog.errors import FieldProblem, Gone, InvalidInput, NotFound, Unprocessable
from auditlog.ledger.leaves import record_bytes
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.store import EventStore

HEIGHT: Final = 8
WIDTH: Final = 1 << HEIGHT
MAX_ENTRY_BYTES: Final = 0xFFFF
_PATH = re.compile(
    r"(?:(?P<level>0|[1-9][0-9]?)|entries)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def _problem(message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem("tile", message)])


@dataclass(frozen=True, slots=True)
class Tile:
    level: int | None  # None: the entry bundle of level-0 tile ``index``
    index: int
    width: int  # 256 for a full tile

    @staticmethod
    def parse(path: str) -> Tile:
        """``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``, N in 3-digit path elements, all but
        the last prefixed with x (``x001/x234/067``)."""
        found = _PATH.fullmatch(path)
        if found is None:
            raise _problem("must be <L>/<N>[.p/<W>] or entries/<N>[.p/<W>] (c2sp.org/tlog-tiles)")
        level = None if found["level"] is None else int(found["level"])
        width = WIDTH if found["width"] is None else int(found["width"])
        if (level is not None and level > 63) or (width > 255 and found["width"] is not None):
            raise _problem("the level is 0 to 63 and a partial width 1 to 255")
        index = int(found["index"].replace("x", "").replace("/", ""))
        return Tile(level, index, width)

    @property
    def path(self) -> str:
        digits = f"{self.index:03d}"
        digits = "0" * (-len(digits) % 3) + digits
        parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        encoded = "/".join([*(f"x{p}" for p in parts[:-1]), parts[-1]])
        head = "entries" if self.level is None else str(self.level)
        return f"{head}/{encoded}" + ("" if self.width == WIDTH else f".p/{self.width}")

    def needs(self) -> int:
        """The tree size from which every hash (or entry) of this tile exists."""
        level = self.level or 0
        return (self.index * WIDTH + self.width) << (HEIGHT * level)


def _require(tile: Tile, size: int) -> None:
    if tile.needs() > size:
        raise NotFound(f"tile {tile.path} is beyond the newest checkpoint (tree size {size})")


def hashes(log: IntegrityStore, tenant_id: str, tile: Tile, size: int) -> bytes:
    """The hash tile: ``width`` 32-byte hashes."""
    _require(tile, size)
    level = HEIGHT * (tile.level or 0)
    ids = {(level, tile.index * WIDTH + i) for i in range(tile.width)}
    nodes = log.nodes(tenant_id, ids)
    if len(nodes) != len(ids):
        raise NotFound(f"tile {tile.path}: the log does not hold all of its hashes")
    return b"".join(nodes[(level, tile.index * WIDTH + i)] for i in range(tile.width))


def entries(
    log: IntegrityStore, store: EventStore, tenant_id: str, tile: Tile, size: int
) -> bytes:
    """The entry bundle: each leaf's committed record, length-prefixed. Retention deletes
    payloads and keeps hashes, so a bundle with a deleted record is gone (410) while its hash
    tile still proves the tree."""
    _require(tile, size)
    start = tile.index * WIDTH
    leaves = log.leaves(tenant_id, start, start + tile.width)
    rows = store.get_many(tenant_id, [leaf.audit_id for leaf in leaves])
    out = bytearray()
    for leaf in leaves:
        row = rows.get(leaf.audit_id)
        if row is None:
            raise Gone(f"entry {leaf.index} of bundle {tile.path} was deleted by retention")
        data = record_bytes(row, recanonicalise=store.reserialises_json)
        if len(data) > MAX_ENTRY_BYTES:
            raise Unprocessable(f"entry {leaf.index} is {len(data)} bytes, more than a bundle can carry")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)
