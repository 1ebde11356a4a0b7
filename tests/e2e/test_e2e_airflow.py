"""The example pipelines in a real Airflow (standalone, started like `./demo.sh --ui`):
parsed by the dag-processor without import errors, run by the scheduler and
LocalExecutor when triggered through the REST API v2, and loaded into the DuckDB
warehouse; a broken pipeline file becomes a visible placeholder DAG while the others
stay active. Asserts on DAG ids, run states and warehouse rows, never on task ids."""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.e2e.conftest import EXAMPLE_DAGS
from tests.support.airflow_server import AirflowServer

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

BROKEN = """\
# yaml-language-server: $schema=../schemas/pipeline.schema.json
version: 1
name: broken_pipe
description: A pipeline with a typo in a key
schedule: "@daily"
source: {type: sql, conn_id: shop_db, table: products}
load: {mode: full_refresh}
target: {conn_id: warehouse, table: analytics.broken_pipe}
retires: 3
"""
BROKEN_LINE = 9  # the line of `retires:` above


@contextmanager
def warehouse(home: Path, timeout: float = 120) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB warehouse, read-only, while holding the engine's writer lock (DuckDB
    has one writing process per file; a read-only open fails while a load holds it)."""
    db_file = home / "warehouse.duckdb"
    with open(db_file.with_name(db_file.name + ".writer.lock"), "ab") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"a writer held {db_file} for more than {timeout}s"
                time.sleep(1)
        with duckdb.connect(str(db_file), read_only=True) as db:
            yield db


def source_products(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "shop.db") as db:
        rows = db.execute("select id, name, category, price, active from products order by id").fetchall()
    return [(i, n, c, Decimal(str(p)).quantize(Decimal("0.01")), bool(a)) for i, n, c, p, a in rows]


def test_example_dags_are_parsed_unpaused_and_described(parsed_server: AirflowServer):
    dags = parsed_server.dags()
    assert EXAMPLE_DAGS <= set(dags)
    for dag_id in EXAMPLE_DAGS:
        dag = dags[dag_id]
        assert dag["is_paused"] is False, dag  # DAGS_ARE_PAUSED_AT_CREATION=False, as in the demo
        assert not dag.get("is_stale"), dag
        assert not dag.get("has_import_errors"), dag
        assert "config-error" not in {t["name"] for t in dag["tags"]}, dag
    assert dags["shop_orders"]["description"].startswith("Orders from the shop DB")
    assert {"full_refresh", "catalogue"} <= {t["name"] for t in dags["shop_products"]["tags"]}
    details = parsed_server.get("/api/v2/dags/shop_orders/details")
    assert "Orders from the shop DB" in (details.get("doc_md") or ""), details.get("doc_md")
    assert parsed_server.import_errors() == []


def test_triggered_runs_load_the_warehouse(parsed_server: AirflowServer):
    server = parsed_server
    started = time.monotonic()
    server.trigger("shop_products", "e2e_dated", "2024-03-05T00:00:00Z")
    # no logical date: the operators load the latest complete interval
    server.trigger("shop_products", "e2e_no_logical_date", None)
    dated = server.wait_for_run("shop_products", "e2e_dated", timeout=300)
    undated = server.wait_for_run("shop_products", "e2e_no_logical_date", timeout=300)
    assert dated["logical_date"].startswith("2024-03-05"), dated
    assert undated["logical_date"] is None, undated
    print(f"\ntwo shop_products runs succeeded after {time.monotonic() - started:.0f}s")

    # unpaused, so the scheduler ran each scheduled example DAG's latest interval too (the
    # demo shop has activity there), and DAGs scheduled after others followed: all must succeed
    server.wait_until_idle(timeout=300)
    runs = server.get("/api/v2/dags/~/dagRuns", limit=100)["dag_runs"]
    states = {(r["dag_id"], r["dag_run_id"]): r["state"] for r in runs}
    periodic = {d for d, info in server.dags().items() if d in EXAMPLE_DAGS and info.get("timetable_periodic")}
    assert {"shop_orders", "shop_customers", "shop_products"} <= periodic
    assert {r["dag_id"] for r in runs if r["run_type"] == "scheduled"} >= periodic, states
    failed = {k: v for k, v in states.items() if v != "success"}
    assert not failed, "\n".join([str(states)] + [server.run_report(d, r) for d, r in failed])

    with warehouse(server.home) as db:
        loaded = db.execute("select id, name, category, price, active from analytics.products order by id").fetchall()
    expected = source_products(server.home)
    assert len(expected) >= 8
    assert loaded == expected


def test_broken_pipeline_file_becomes_a_placeholder_dag(parsed_server: AirflowServer):
    server = parsed_server
    path = server.pipelines / "broken_pipe.yaml"
    path.write_text(BROKEN)
    started = time.monotonic()

    def probe():
        dag = server.get("/api/v2/dags/broken_pipe")  # 404 (ApiError) until the dag-processor saw the file
        return "config-error" in {t["name"] for t in dag["tags"]}, dag

    dag = server.wait_for("the placeholder DAG broken_pipe tagged config-error", probe, timeout=180)
    print(f"\nplaceholder DAG appeared {time.monotonic() - started:.0f}s after the file was written")
    assert f"broken_pipe.yaml:{BROKEN_LINE}" in dag["description"], dag["description"]
    assert "retires" in dag["description"], dag["description"]
    details = server.get("/api/v2/dags/broken_pipe/details")
    assert "retires" in (details.get("doc_md") or ""), details.get("doc_md")

    # the other pipelines stay active, and the file itself has no import error
    dags = server.dags()
    for dag_id in EXAMPLE_DAGS:
        assert dag_id in dags, sorted(dags)
        assert not dags[dag_id].get("is_stale"), dags[dag_id]
        assert not dags[dag_id].get("has_import_errors"), dags[dag_id]
    assert server.import_errors() == []
    # ... and still run
    server.trigger("shop_customers", "e2e_after_broken", "2024-03-02T00:00:00Z")
    server.wait_for_run("shop_customers", "e2e_after_broken", timeout=300)
