"""source.parallel in Airflow: plan -> mapped extract parts (dynamic task mapping) -> commit,
from the DAG file as the dag-processor sees it, run with dag.test() against a real PostgreSQL
source and warehouse; the target equals the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from dag_factory.config.describe import task_ids
from dag_factory.config.loader import load_pipeline
from tests.support.postgres import PgServer

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]

PIPELINE = """
version: 1
name: big_orders
schedule: "@daily"
start_date: 2024-03-01
retries: 0
source:
  type: sql
  conn_id: src
  table: orders
  parallel: {column: id, parts: 3}
load: {mode: incremental, cursor: updated_at, primary_key: [id]}
lake: {conn_id: lake, path: big_orders}
target: {conn_id: wh, table: public.orders}
checks: [{row_count: {min: 1}}]
"""

RUN = """
import sys
from datetime import datetime, timezone
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
dag = bag.dags["big_orders"]
print("TASKS", sorted(dag.task_dict))
print("UPSTREAM", sorted(dag.get_task("load.stage").upstream_task_ids), sorted(dag.get_task("extract.commit").upstream_task_ids))
print("MAPPED", type(dag.get_task("extract.to_lake")).__name__)
run = dag.test(logical_date=datetime(2024, 3, 2, tzinfo=timezone.utc))
print("STATE", run.state)
for ti in sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
    print("TI", ti.task_id, ti.map_index, ti.state)
"""


@pytest.fixture
def pg(pg_server: PgServer) -> PgServer:
    return pg_server  # the session server (tests/conftest.py)


def _env(pg: PgServer, db: str) -> str:
    c = pg.conninfo(db)
    return json.dumps(
        {"conn_type": "postgres", "host": c.host, "port": c.port, "login": c.login, "password": c.password, "schema": db}
    )


def test_mapped_parts_exist_run_and_load_every_row(tmp_path: Path, pg: PgServer, airflow_db) -> None:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "big_orders.yaml").write_text(PIPELINE)
    with pg.fresh_database() as src_db, pg.fresh_database() as wh_db:
        c = pg.conninfo(src_db)
        with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=src_db) as db:
            db.execute("CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2), updated_at timestamptz)")
            db.execute(
                "INSERT INTO orders SELECT i, i / 4.0, '2024-03-01'::timestamptz + i * interval '1 minute'"
                " FROM generate_series(1, 1000) AS i"
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
        env.update(
            {
                "DAG_FACTORY_PIPELINES": str(pipelines),
                "AIRFLOW_CONN_SRC": _env(pg, src_db),
                "AIRFLOW_CONN_WH": _env(pg, wh_db),
                "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "lake")}}),
            }
        )
        out = subprocess.run(
            [sys.executable, "-c", RUN, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=600
        )
        text = out.stdout + out.stderr
        assert "STATE success" in out.stdout, text[-5000:]
        assert (
            "TASKS ['extract.commit', 'extract.plan', 'extract.to_lake', 'load.checks.row_count', 'load.publish', 'load.stage']"
            in out.stdout
        )
        p = load_pipeline(pipelines / "big_orders.yaml", pipelines, "local")
        assert f"TASKS {sorted(task_ids(p))}" in out.stdout  # describe (show, diff, docs) names the same tasks
        assert task_ids(p)[:3] == ["extract.plan", "extract.to_lake", "extract.commit"]
        assert "UPSTREAM ['extract.commit'] ['extract.to_lake']" in out.stdout
        assert "MAPPED MappedOperator" in out.stdout
        parts = [line.split() for line in out.stdout.splitlines() if line.startswith("TI extract.to_lake")]
        assert [(p[2], p[3]) for p in parts] == [("0", "success"), ("1", "success"), ("2", "success")], out.stdout
        w = pg.conninfo(wh_db)
        with psycopg.connect(host=w.host, port=w.port, user=w.login, password=w.password, dbname=wh_db) as db:
            got = db.execute("SELECT count(*), sum(id), sum(amount) FROM public.orders").fetchone()
        with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=src_db) as db:
            want = db.execute("SELECT count(*), sum(id), sum(amount) FROM orders WHERE updated_at < '2024-03-02'").fetchone()
        assert got == want and got[0] == 1000
