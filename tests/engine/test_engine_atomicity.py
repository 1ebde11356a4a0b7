"""Readers never see a half-done load: full refresh swaps tables, the lake swaps folders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pyarrow as pa
import pytest

from dag_factory.config.model import Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import LocalLake
from dag_factory.engine.runner import extract, load

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))


@pytest.mark.postgres
def test_full_refresh_reader_sees_old_or_new_never_partial(pg_conn, tmp_path):
    c = pg_conn

    def connect() -> psycopg.Connection:
        return psycopg.connect(host=c.host, port=c.port, user=c.login, dbname=c.database, autocommit=True)

    with connect() as db:
        db.execute("CREATE TABLE src (id int, v text)")
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("fr", SqlSource("src", table="src", batch_size=500), Load("full_refresh"), Target("wh", "mart.fr"))
    sizes = (3000, 5000)

    def refresh(n: int) -> None:
        with connect() as db:
            db.execute("TRUNCATE src")
            db.execute("INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, %s) g", [n])
        extract(p, IV, c, lake)
        load(p, IV, lake, c)

    refresh(sizes[0])
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            with connect() as db:
                while not stop.is_set():
                    seen.append(db.execute("SELECT count(*) FROM mart.fr").fetchone()[0])
        except BaseException as e:  # a failed query is a visible gap too
            errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(8):
            refresh(sizes[(i + 1) % 2])
    finally:
        stop.set()
        t.join(timeout=30)
    assert not errors, errors
    assert len(seen) > 20
    assert set(seen) <= set(sizes), sorted(set(seen) - set(sizes))
    assert set(seen) == set(sizes)  # the reader really overlapped both versions
    with connect() as db:  # no leftover staging tables
        left = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'mart'").fetchall()
    assert left == [("fr",)]


def _batches(n_batches: int, start: int = 0, fail_after: int | None = None):
    for i in range(n_batches):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("source died mid-stream")
        ids = list(range(start + i * 10, start + (i + 1) * 10))
        yield pa.record_batch([pa.array(ids, pa.int64())], names=["id"])


SCHEMA = pa.schema([("id", pa.int64())])


def test_lake_write_failing_mid_stream_keeps_previous_partition(tmp_path):
    lake = LocalLake(tmp_path)
    info = lake.write_partition("sales/orders", "2024-03-01", SCHEMA, _batches(3))
    assert (info.rows, info.files) == (30, 1)
    with pytest.raises(RuntimeError, match="mid-stream"):
        lake.write_partition("sales/orders", "2024-03-01", SCHEMA, _batches(5, start=100, fail_after=2))
    assert lake.read_partition("sales/orders", "2024-03-01").read_all().column("id").to_pylist() == list(range(30))
    assert [p.name for p in (tmp_path / "sales/orders").iterdir()] == ["ds=2024-03-01"]  # no temp leftovers
    # a successful rewrite replaces it completely
    lake.write_partition("sales/orders", "2024-03-01", SCHEMA, _batches(1, start=100))
    assert lake.read_partition("sales/orders", "2024-03-01").read_all().column("id").to_pylist() == list(range(100, 110))


def test_lake_empty_extract_is_a_valid_partition_and_files_roll(tmp_path):
    lake = LocalLake(tmp_path, rows_per_file=25)
    empty = lake.write_partition("t", "2024-03-02", SCHEMA, iter(()))
    assert (empty.rows, empty.files) == (0, 1)
    table = lake.read_partition("t", "2024-03-02").read_all()
    assert table.num_rows == 0 and table.schema == SCHEMA
    rolled = lake.write_partition("t", "2024-03-03", SCHEMA, _batches(6))
    assert (rolled.rows, rolled.files) == (60, 3)
    assert sorted(lake.read_partition("t", "2024-03-03").read_all().column("id").to_pylist()) == list(range(60))


def test_lake_writer_killed_between_the_two_renames_is_recovered(tmp_path):
    """SIGKILL after the old partition was moved aside but before the new one got its
    name: the next reader or writer puts the previous partition back."""
    lake = LocalLake(tmp_path)
    lake.write_partition("sales/orders", "2024-03-01", SCHEMA, _batches(3))
    parent = tmp_path / "sales/orders"
    (parent / "ds=2024-03-01").rename(parent / ".old-ds=2024-03-01-deadbeef0000")
    (parent / ".tmp-ds=2024-03-01-deadbeef0000").mkdir()  # the new one, never published
    assert lake.read_partition("sales/orders", "2024-03-01").read_all().column("id").to_pylist() == list(range(30))
    lake.write_partition("sales/orders", "2024-03-01", SCHEMA, _batches(1, start=100))
    assert sorted(p.name for p in parent.iterdir()) == ["ds=2024-03-01"]
    assert lake.read_partition("sales/orders", "2024-03-01").read_all().column("id").to_pylist() == list(range(100, 110))
