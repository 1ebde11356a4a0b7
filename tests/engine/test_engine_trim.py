"""memory.trim hands glibc's free heap pages back to the OS (engine/memory.py)."""

from __future__ import annotations

import platform

import pytest

from dag_factory.engine.memory import trim


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_returns_the_pages_of_freed_chunks():
    """Chunks below the mmap threshold stay in the heap when freed; every other one freed leaves
    a fragmented heap that only malloc_trim gives back."""
    trim()
    chunks = [bytearray(64 * 1024) for _ in range(4000)]  # ~250 MB, each chunk in the heap
    del chunks[::2]  # ~125 MB free, in holes between live chunks: free() alone keeps them
    before = _rss_mb()
    assert trim() is True
    assert before - _rss_mb() > 60
    del chunks
