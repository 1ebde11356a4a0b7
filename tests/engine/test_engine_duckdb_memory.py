"""A DuckDB file warehouse caps its memory (128MB per thread, at least 256MB, unless the
connection says otherwise) and a merge bigger than the cap still completes exactly; an
in-memory one keeps DuckDB's default."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse, default_memory_limit
from dag_factory.errors import ConnectionConfigError

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
NEXT = Interval(datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC))


def _setting(db: duckdb.DuckDBPyConnection, name: str = "memory_limit") -> str:
    row = db.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def _as_duckdb_shows(limit: str | None) -> str:
    """How DuckDB itself renders `limit` (it prints 512MB as MiB), or its own default."""
    db = duckdb.connect(":memory:")
    if limit:
        db.execute(f"SET memory_limit = '{limit}'")
    return _setting(db)


def test_file_database_is_capped_by_default(tmp_path: Path):
    with DuckDBWarehouse(ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"))) as wh:
        threads = int(_setting(wh.db, "threads"))
        assert _setting(wh.db) == _as_duckdb_shows(f"{max(256, 128 * threads)}MB")
        assert _setting(wh.db) != _as_duckdb_shows(None)  # DuckDB's own default is 80% of RAM


def test_the_default_cap_grows_with_threads():
    """Each DuckDB thread needs room of its own for a spilling group-by: 128MB each, 256MB at least."""
    assert [default_memory_limit(n) for n in (1, 2, 3, 16)] == ["256MB", "256MB", "384MB", "2048MB"]


def test_connection_extra_sets_the_cap(tmp_path: Path):
    conn = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"), extra={"memory_limit": "2GB"})
    with DuckDBWarehouse(conn) as wh:
        assert _setting(wh.db) == _as_duckdb_shows("2GB")


def test_in_memory_database_keeps_duckdbs_default():
    with DuckDBWarehouse(ConnInfo("wh", "duckdb", host=":memory:")) as wh:
        assert _setting(wh.db) == _as_duckdb_shows(None)


def test_bad_cap_names_the_connection(tmp_path: Path):
    conn = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"), extra={"memory_limit": "lots"})
    with pytest.raises(ConnectionConfigError, match="memory_limit 'lots'"):
        DuckDBWarehouse(conn)


def _rows(first: int, count: int, label: str, day: int) -> pa.RecordBatchReader:
    ids = pa.array(range(first, first + count), pa.int64())
    payload = pa.array([f"{label}-{i:09d}-" + "x" * 40 for i in range(first, first + count)])
    at = pa.array([datetime(2024, 3, day, 12, tzinfo=UTC)] * count, pa.timestamp("us", tz="UTC"))
    table = pa.table([ids, payload, at], names=["id", "payload", "updated_at"])
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=100_000))


def test_a_merge_bigger_than_the_cap_stays_exact(tmp_path: Path):
    """The next day's 1.5M keyed rows (half of them updates) merged into 1.5M under a 32MB cap:
    each side is ~100 MB of rows, so DuckDB works through its spill folder (<file>.tmp) and the
    result is exact. (Whether the same merge fails with spilling off varied from run to run, so
    that is not asserted.)"""
    conn = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"), extra={"memory_limit": "32MB"})
    keyed = Load(mode="incremental", cursor="updated_at", primary_key=("id",))
    with DuckDBWarehouse(conn) as wh:
        wh.load("main.t", Load(mode="full_refresh"), IV, _rows(0, 1_500_000, "old", day=1))
        wh.load("main.t", keyed, NEXT, _rows(750_000, 1_500_000, "new", day=2))
    with duckdb.connect(conn.host) as db:  # checked without the cap
        count, old, new, keys = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE payload LIKE 'old-%'), count(*) FILTER (WHERE payload LIKE 'new-%'),"
            " count(DISTINCT id) FROM main.t"
        ).fetchone()
    assert (count, old, new, keys) == (2_250_000, 750_000, 1_500_000, 2_250_000)
