"""Airflow's own backfill over a generated DAG (REST API v2: POST /api/v2/backfills): the
warehouse equals what sequential runs of the same intervals give, and what the source holds
for those intervals; a second backfill with reprocess_behavior "completed" re-runs every
interval without changing the result.

The test has an Airflow of its own (tests/support/airflow_cluster.py with LocalExecutor:
scheduler, dag-processor, triggerer, api-server) on a fresh PostgreSQL metadata database of
the session's server, not the shared `airflow standalone` of the other e2e tests: on
standalone's SQLite metadata DB, Airflow 3.3.2's scheduler died now and then (sqlalchemy
ObjectDeletedError on a DagRun in _schedule_all_dag_runs) right as the backfill created its
runs, which left every later test that shares that server without a scheduler. Here a crash
fails this test at once (a component exited) and nothing else.

The data side is the demo's, as in test_e2e_airflow.py: the demo shop (SQLite) with exactly
the three days the backfill loads (so the source does not change and the expected rows are
known), a local-folder lake and the DuckDB warehouse, connections in the environment. No
scheduled runs (the cluster's use_job_schedule is off): every run of the two DAGs is one
this test made.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from dag_factory.airflow.pools import publish_pool
from dag_factory.cli import standalone
from dag_factory.cli.demo_home import FIRST_DAY, demo_environment
from dag_factory.demo import shop
from tests.e2e.test_e2e_airflow import warehouse
from tests.support.airflow_cluster import LOCAL, Cluster, airflow_cluster
from tests.support.airflow_server import REPO
from tests.support.postgres import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres]

PIPELINE = """\
version: 1
name: {name}
description: issue 12.5, the e2e backfill test
schedule: "@daily"
source: {{type: sql, conn_id: shop_db, table: orders}}
load: {{mode: incremental, cursor: updated_at, primary_key: [id], lookback: 6h}}
lake: {{conn_id: lake, path: raw/e2e/{name}}}
target: {{conn_id: warehouse, table: analytics.{name}}}
environments:
  prod:
    lake: {{conn_id: s3_lake, path: raw/e2e/{name}}}
"""
BACKFILLED, SEQUENTIAL = "bf_backfilled", "bf_sequential"
DAYS = 3  # the shop's activity: FIRST_DAY (2024-03-01) and the two days after it
FROM, TO = "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"  # logical dates: the 3 daily intervals of that activity
# what the three runs read, lookback (6h) included: [03-01 - 6h, 03-04)
WINDOW = ("2024-02-29 18:00:00", "2024-03-04 00:00:00")
TABLE_SQL = "select id, status, amount, cast(updated_at as varchar) from analytics.{name} order by id"


@dataclass
class Backfill:
    cluster: Cluster
    home: Path  # the demo data: shop.db, lake/, warehouse.duckdb


def _bundle(root: Path) -> Path:
    """generate.py with only the two test pipelines (and the repository's folder defaults)."""
    bundle = root / "bundle"
    pipelines = bundle / "pipelines"
    pipelines.mkdir(parents=True)
    shutil.copy(REPO / "dags" / "generate.py", bundle / "generate.py")
    for name in ("_defaults.yaml", "_connections.yaml"):
        shutil.copy(REPO / "pipelines" / name, pipelines / name)
    for name in (BACKFILLED, SEQUENTIAL):
        (pipelines / f"{name}.yaml").write_text(PIPELINE.format(name=name))
    return bundle


@pytest.fixture(scope="module")
def backfill_airflow(tmp_path_factory, pg_server: PgServer) -> Iterator[Backfill]:
    root = tmp_path_factory.mktemp("backfill-e2e")
    home = root / "demo"
    shop.create(home / "shop.db", FIRST_DAY)  # its history lies on the day before
    for offset in range(DAYS):
        shop.simulate_day(home / "shop.db", FIRST_DAY + timedelta(days=offset))
    connections = {k: v for k, v in demo_environment(home).items() if k.startswith("AIRFLOW_CONN_")}
    bundle = _bundle(root)
    started = time.monotonic()
    with pg_server.fresh_database() as database:
        login = quote(pg_server.user) + (f":{quote(pg_server.password)}" if pg_server.password else "")
        metadata_url = f"postgresql+psycopg://{login}@{pg_server.host}:{pg_server.port}/{database}"
        extra = {**connections, "DAG_FACTORY_ENV": "local"}
        with airflow_cluster(root, bundle, metadata_url, None, extra, workers=(), executor=LOCAL, timeout=300) as cluster:
            server = cluster.server
            pools = standalone.create_pools(server.base_url, server.token, bundle / "pipelines", env="local", slots=1)
            assert pools == [publish_pool("warehouse")]  # else no publish task is ever scheduled

            def parsed():
                dags, errors = server.dags(), server.import_errors()
                return {BACKFILLED, SEQUENTIAL} <= set(dags) and not errors, {"dags": sorted(dags), "import_errors": errors}

            cluster.wait_for("the two backfill pipelines to be parsed without import errors", parsed, timeout=300)
            print(
                f"\nbackfill Airflow (LocalExecutor, PostgreSQL metadata DB {database}) ready after {time.monotonic() - started:.0f}s"
            )
            yield Backfill(cluster, home)


def _backfill(cluster: Cluster, reprocess: str) -> dict:
    server = cluster.server
    body = {"dag_id": BACKFILLED, "from_date": FROM, "to_date": TO, "reprocess_behavior": reprocess, "max_active_runs": 1}
    created = server.request("POST", "/api/v2/backfills", body)

    def probe():
        b = server.get(f"/api/v2/backfills/{created['id']}")
        return b["completed_at"] is not None, b

    return cluster.wait_for(f"backfill {created['id']} ({reprocess}) to complete", probe, timeout=900)


def _runs(cluster: Cluster, dag_id: str) -> list[dict]:
    runs = cluster.server.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
    return sorted(runs, key=lambda r: r["data_interval_start"])


def _table(home: Path, name: str) -> list[tuple]:
    with warehouse(home) as db:
        return db.execute(TABLE_SQL.format(name=name)).fetchall()


def _expected(home: Path) -> list[tuple]:
    """The source's orders in the window the three runs read (the shop does not change)."""
    with closing(sqlite3.connect(home / "shop.db")) as db:
        sql = "select id, status, amount, updated_at from orders where updated_at >= ? and updated_at < ? order by id"
        return db.execute(sql, WINDOW).fetchall()


def _comparable(rows: list[tuple]) -> list[tuple]:
    """(id, status, amount as text with 2 decimals, updated_at 'YYYY-MM-DD HH:MM:SS')."""
    return [(i, s, f"{float(a):.2f}", str(u)[:19]) for i, s, a, u in rows]


def test_airflow_backfill_equals_sequential_runs(backfill_airflow: Backfill):
    cluster, home = backfill_airflow.cluster, backfill_airflow.home
    server = cluster.server
    started = time.monotonic()
    _backfill(cluster, "none")
    runs = _runs(cluster, BACKFILLED)
    intervals = [(r["data_interval_start"], r["data_interval_end"]) for r in runs]
    assert [s[:10] for s, _ in intervals] == ["2024-03-01", "2024-03-02", "2024-03-03"], intervals
    assert {r["run_type"] for r in runs} == {"backfill"}, [(r["dag_run_id"], r["run_type"]) for r in runs]
    failed = [r for r in runs if r["state"] != "success"]
    assert not failed, "\n".join(server.run_report(BACKFILLED, r["dag_run_id"]) for r in failed)
    print(f"\nbackfill of 3 intervals done after {time.monotonic() - started:.0f}s")

    # the same intervals as sequential runs of an identical pipeline, one after the other
    started = time.monotonic()
    for i, (start, end) in enumerate(intervals):
        body = {
            "dag_run_id": f"seq_{i}",
            "logical_date": start,
            "data_interval_start": start,
            "data_interval_end": end,
            "conf": {},
        }
        server.request("POST", f"/api/v2/dags/{SEQUENTIAL}/dagRuns", body)
        run = cluster.wait_for_run(SEQUENTIAL, f"seq_{i}", timeout=600)
        assert (run["data_interval_start"], run["data_interval_end"]) == (start, end)
    assert [r["dag_run_id"] for r in _runs(cluster, SEQUENTIAL)] == ["seq_0", "seq_1", "seq_2"]
    print(f"3 sequential runs done after {time.monotonic() - started:.0f}s")
    backfilled, sequential = _table(home, BACKFILLED), _table(home, SEQUENTIAL)
    # what the source holds for the three intervals, each order once: a duplicated or lost row fails here
    expected = _expected(home)
    assert len(expected) >= 10
    assert _comparable(backfilled) == _comparable(expected), (backfilled, expected)
    assert backfilled == sequential

    # reprocess "completed": every interval runs again; the warehouse does not change
    ended = {r["dag_run_id"]: r["end_date"] for r in runs}
    started = time.monotonic()
    _backfill(cluster, "completed")
    again = _runs(cluster, BACKFILLED)
    assert [(r["data_interval_start"], r["data_interval_end"]) for r in again] == intervals
    assert {r["run_type"] for r in again} == {"backfill"}, [(r["dag_run_id"], r["run_type"]) for r in again]
    failed = [r for r in again if r["state"] != "success"]
    assert not failed, "\n".join(server.run_report(BACKFILLED, r["dag_run_id"]) for r in failed)
    rerun = [r for r in again if r["dag_run_id"] not in ended or r["end_date"] != ended[r["dag_run_id"]]]
    assert len(rerun) == 3, json.dumps({"before": ended, "after": again}, indent=1)
    assert _table(home, BACKFILLED) == backfilled
    assert _table(home, SEQUENTIAL) == sequential
    print(
        f"reprocess_behavior=completed re-ran {len(rerun)} intervals in {time.monotonic() - started:.0f}s; "
        f"warehouse unchanged ({len(backfilled)} rows)"
    )
