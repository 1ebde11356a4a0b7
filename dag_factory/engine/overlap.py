"""Read ahead in a thread, so reading the source and writing Parquet use both cores.

The ADBC PostgreSQL driver and Arrow's Parquet writer release the GIL while they work, so a
reader thread filling a small queue overlaps the two: the extract costs about
max(read, write) instead of read + write. The queue is bounded (memory stays at a few
batches), errors surface in the consumer, and a consumer that stops early stops the reader
instead of leaving it blocked. Not for connectorx (MySQL): it parses in its own thread
already, and its iterator holds the GIL while it waits (engine/sources/mysql.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 2, name: str = "dagf-read-ahead") -> Iterator[T]:
    """Iterate `items` in a background thread, at most `depth` items ahead of the consumer."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer, raised there
            put(e)
        finally:
            close = getattr(it, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)  # the queue holds items, _DONE and exceptions; the other two are handled above
    finally:
        stop.set()
        thread.join()
