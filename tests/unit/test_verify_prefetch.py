"""The verifier's digest prefetch: it starts producing at once (so it overlaps the spine read),
hands every chunk over in order with the producer's error, and stops and closes its source when
the reader stops early or drops it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from auditlog.ledger.verify import _prefetched

pytestmark = pytest.mark.unit


class Source:
    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()
        self.n = n
        self.fail_at = fail_at

    def chunks(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                self.started.set()
                if i == self.fail_at:
                    raise RuntimeError("store failed")
                yield i
        finally:
            self.closed.set()


def test_produces_before_the_first_read_and_hands_over_everything_in_order() -> None:
    source = Source(50)
    reader = _prefetched(source.chunks(), depth=4)
    assert source.started.wait(5), "the producer runs before anything is read"
    assert list(reader) == list(range(50))
    assert source.closed.wait(5)


def test_the_producers_error_reaches_the_reader_after_the_chunks_before_it() -> None:
    source = Source(10, fail_at=3)
    reader = _prefetched(source.chunks())
    got = []
    with pytest.raises(RuntimeError, match="store failed"):
        for item in reader:
            got.append(item)
    assert got == [0, 1, 2]


def test_a_reader_that_stops_early_stops_the_producer_and_closes_the_source() -> None:
    source = Source(1_000_000)
    reader = _prefetched(source.chunks(), depth=2)
    assert next(reader) == 0
    reader.close()
    assert source.closed.wait(5), "the source is closed once the reader stops"


def test_a_reader_dropped_unread_stops_the_producer() -> None:
    source = Source(1_000_000)
    reader = _prefetched(source.chunks(), depth=2)
    assert source.started.wait(5)
    del reader
    gc.collect()
    assert source.closed.wait(5), "the source is closed once the reader is gone"
