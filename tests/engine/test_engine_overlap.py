"""read_ahead: the reader thread behind the extract (issue 15, item 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dag_factory.engine.overlap import read_ahead


def test_yields_everything_in_order() -> None:
    assert list(read_ahead(range(1000), depth=3)) == list(range(1000))


def test_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("source broke")

    got = []
    with pytest.raises(ValueError, match="source broke"):
        for x in read_ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_consumer_stopping_early_closes_the_source_and_ends_the_thread() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(10**9)
        finally:
            closed.set()  # a source's cleanup (closing its connection) runs

    before = threading.active_count()
    it = read_ahead(items(), depth=2)
    assert next(it) == 0
    it.close()
    assert closed.is_set()
    assert threading.active_count() == before


def test_reads_in_another_thread() -> None:
    seen = []

    def items() -> Iterator[str]:
        seen.append(threading.current_thread().name)
        yield "x"

    assert list(read_ahead(items())) == ["x"]
    assert seen != [threading.current_thread().name]
