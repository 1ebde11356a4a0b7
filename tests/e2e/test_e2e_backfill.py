"""Airflow's own backfill over a generated DAG, in a running Airflow (standalone, REST API v2):
the warehouse equals what sequential runs of the same intervals give, and a second backfill with
reprocess_behavior "completed" re-runs those intervals without changing the result."""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.test_e2e_airflow import warehouse
from tests.support.airflow_server import AirflowServer, ApiError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.airflow,
    # Opt-in until it runs on its own Airflow with a PostgreSQL metadata DB: in the CI rehearsal of
    # 2026-12-01, Airflow 3.3.2's scheduler died (sqlalchemy ObjectDeletedError on a DagRun in
    # _schedule_all_dag_runs) right as POST /api/v2/backfills created the runs on standalone's SQLite
    # metadata DB, which left the shared e2e server without a scheduler for every later test.
    pytest.mark.skipif(
        os.environ.get("DAG_FACTORY_TEST_AIRFLOW_BACKFILL") != "1",
        reason="set DAG_FACTORY_TEST_AIRFLOW_BACKFILL=1 (crashes 3.3.2's scheduler on SQLite now and then; see the marker)",
    ),
]

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
FROM, TO = "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"  # the demo shop's history: 3 daily intervals


def _backfill(server: AirflowServer, reprocess: str) -> dict:
    body = {"dag_id": BACKFILLED, "from_date": FROM, "to_date": TO, "reprocess_behavior": reprocess, "max_active_runs": 1}
    for attempt in range(1, 13):
        try:
            created = server.request("POST", "/api/v2/backfills", body)
            break
        except ApiError as exc:  # standalone's SQLite metadata DB: "Database is locked" (503) while the scheduler writes
            if exc.status != 503 or attempt == 12:
                raise
            time.sleep(5)

    def probe():
        b = server.get(f"/api/v2/backfills/{created['id']}")
        return b["completed_at"] is not None, b

    return server.wait_for(f"backfill {created['id']} ({reprocess}) to complete", probe, timeout=600)


def _backfill_runs(server: AirflowServer) -> list[dict]:
    runs = server.get(f"/api/v2/dags/{BACKFILLED}/dagRuns", run_type=["backfill"], limit=100)["dag_runs"]
    return sorted(runs, key=lambda r: r["data_interval_start"])


def _table(server: AirflowServer, name: str) -> list[tuple]:
    with warehouse(server.home) as db:
        return db.execute(f"select * from analytics.{name} order by id").fetchall()


def test_airflow_backfill_equals_sequential_runs(parsed_server: AirflowServer):
    server = parsed_server
    for name in (BACKFILLED, SEQUENTIAL):
        (server.pipelines / f"{name}.yaml").write_text(PIPELINE.format(name=name))

    def parsed():
        dags = server.dags()
        return {BACKFILLED, SEQUENTIAL} <= set(dags) and not server.import_errors(), sorted(dags)

    server.wait_for("the two backfill pipelines to be parsed", parsed, timeout=240)
    started = time.monotonic()
    _backfill(server, "none")
    runs = _backfill_runs(server)
    intervals = [(r["data_interval_start"], r["data_interval_end"]) for r in runs]
    assert [s[:10] for s, _ in intervals] == ["2024-03-01", "2024-03-02", "2024-03-03"], intervals
    failed = [r for r in runs if r["state"] != "success"]
    assert not failed, "\n".join(server.run_report(BACKFILLED, r["dag_run_id"]) for r in failed)
    print(f"\nbackfill of 3 intervals done after {time.monotonic() - started:.0f}s")

    # the same intervals as sequential runs of an identical pipeline, one after the other
    for i, (start, end) in enumerate(intervals):
        body = {
            "dag_run_id": f"seq_{i}",
            "logical_date": start,
            "data_interval_start": start,
            "data_interval_end": end,
            "conf": {},
        }
        server.request("POST", f"/api/v2/dags/{SEQUENTIAL}/dagRuns", body)
        run = server.wait_for_run(SEQUENTIAL, f"seq_{i}", timeout=300)
        assert (run["data_interval_start"], run["data_interval_end"]) == (start, end)
    server.wait_until_idle(timeout=300)  # the scheduled latest interval of both DAGs too (same rows for both)
    backfilled, sequential = _table(server, BACKFILLED), _table(server, SEQUENTIAL)
    assert len(backfilled) >= 10
    assert backfilled == sequential

    # reprocess "completed": every interval runs again; the warehouse does not change
    ended = {r["dag_run_id"]: r["end_date"] for r in runs}
    _backfill(server, "completed")
    again = _backfill_runs(server)
    assert [(r["data_interval_start"], r["data_interval_end"]) for r in again] == intervals
    assert all(r["state"] == "success" for r in again), [(r["dag_run_id"], r["state"]) for r in again]
    rerun = [r for r in again if r["dag_run_id"] not in ended or r["end_date"] != ended[r["dag_run_id"]]]
    assert len(rerun) == 3, (ended, again)
    server.wait_until_idle(timeout=300)
    assert _table(server, BACKFILLED) == backfilled == _table(server, SEQUENTIAL)
    print(f"reprocess_behavior=completed re-ran {len(rerun)} intervals; warehouse unchanged ({len(backfilled)} rows)")
