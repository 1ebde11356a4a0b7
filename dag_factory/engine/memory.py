"""Hand freed memory back to the OS during a long extract.

The driver threads (connectorx's Rust workers, ADBC's reader) allocate each batch with glibc's
malloc, in their own arenas, and our thread frees it after writing the batch. glibc keeps such
freed chunks inside the arenas, fragmented, so a MariaDB extract of the same 6M rows peaked
anywhere between 222 and 457 MB from run to run. `malloc_trim(0)` releases the free pages of
every arena; called every few batches it keeps the peak flat. Elsewhere than glibc: no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def trim() -> bool:
    """Release free heap pages to the OS; True when glibc did release some."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
