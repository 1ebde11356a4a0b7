"""`dag-factory run` on a `source.parallel` pipeline: the parts are read in-process, committed
as one partition, and the warehouse equals the source."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from dag_factory.demo import shop

REPO = Path(__file__).resolve().parents[2]

PIPELINE = """
version: 1
name: orders_parts
schedule: "@daily"
source:
  type: sql
  conn_id: shop_db
  table: orders
  parallel: {column: id, parts: 3}
load: {mode: full_refresh}
lake: {conn_id: lake, path: raw/orders_parts}
target: {conn_id: warehouse, table: analytics.orders_parts}
"""


def test_run_reads_the_parts_and_loads_every_row(tmp_path: Path) -> None:
    shop.create(tmp_path / "shop.db", date(2024, 3, 1))
    shop.simulate_day(tmp_path / "shop.db", date(2024, 3, 1))
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "orders_parts.yaml").write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        {
            "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")}),
            "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "lake")}}),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "wh.duckdb")}),
        }
    )
    cmd = [sys.executable, "-m", "dag_factory.cli", "run", "orders_parts", "--date", "2024-03-01", "--pipelines", str(pipelines)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    with sqlite3.connect(tmp_path / "shop.db") as db:
        want = db.execute("SELECT count(*), sum(id), count(DISTINCT id) FROM orders").fetchone()
    assert f"extract: {want[0]:,} rows -> lake partition raw/orders_parts/ds=2024-03-01" in out.stdout, out.stdout
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as wh:
        got = wh.execute("SELECT count(*), sum(id), count(DISTINCT id) FROM analytics.orders_parts").fetchone()
    assert got == want and want[0] > 0
    files = sorted(p.name for p in (tmp_path / "lake/raw/orders_parts/ds=2024-03-01").iterdir())
    assert [f[:10] for f in files] == ["part-p0000", "part-p0001", "part-p0002"]  # one file per part, committed together
    assert not list((tmp_path / "lake/raw/orders_parts").glob(".parts-*"))
