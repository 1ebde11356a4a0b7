"""Two processes loading one DuckDB file queue instead of failing on DuckDB's file lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb

from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse

LOADER = """
import sys, pyarrow as pa
from datetime import datetime, timezone
from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse
batch = pa.record_batch([pa.array([1, 2, 3], pa.int64())], names=["id"])
iv = Interval(datetime(2024, 3, 1, tzinfo=timezone.utc), datetime(2024, 3, 2, tzinfo=timezone.utc))
with DuckDBWarehouse(ConnInfo("wh", "duckdb", host=sys.argv[1])) as wh:
    wh.load("main.second", Load(mode="full_refresh"), iv, pa.RecordBatchReader.from_batches(batch.schema, [batch]))
print("loaded")
"""


def test_second_writer_waits_for_the_first(tmp_path: Path):
    db = str(tmp_path / "wh.duckdb")
    first = DuckDBWarehouse(ConnInfo("wh", "duckdb", host=db))
    first.execute("create table main.first as select 1 as id")
    proc = subprocess.Popen([sys.executable, "-c", LOADER, db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None, proc.communicate()  # waiting, not failed on DuckDB's lock
    first.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "loaded" in out
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("select count(*) from main.second").fetchone()[0] == 3
        assert con.execute("select count(*) from main.first").fetchone()[0] == 1
