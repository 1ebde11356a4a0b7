"""Issue 13.3: see what a source holds without sqlite3 or psql: a connection's tables, a
table's columns, types, primary key and likely cursors; `new --source` proposes from them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dag_factory.config.loader import load_pipelines
from dag_factory.demo import shop
from tests.support.postgres import PgServer
from tests.support.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]


def _cli(cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "DAG_FACTORY_"))}
    env.update(PYTHONPATH=str(REPO), AIRFLOW_HOME=str(cwd / "airflow"), **extra)
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def demo_repo(tmp_path) -> Path:
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    shop.create(tmp_path / ".demo/shop.db", date(2024, 3, 1))
    return tmp_path


def test_tables_of_the_demo_shop_and_one_tables_columns(demo_repo):
    listed = _cli(demo_repo, "tables", "shop_db", "--demo")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[:4] == ["3 tables in shop_db (sqlite):", "  customers", "  orders", "  products"]

    shown = _cli(demo_repo, "tables", "shop_db.orders", "--demo")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "primary key: id" in out
    assert "likely cursor columns: updated_at, created_at" in out
    assert any(line.split()[:2] == ["updated_at", "timestamp"] and "likely cursor" in line for line in out.splitlines())
    assert (
        "dag-factory new NAME --source shop_db.orders --target warehouse.analytics.orders "
        "--mode incremental --cursor updated_at --pk id" in out
    )
    missing = _cli(demo_repo, "tables", "shop_db.nope", "--demo")
    assert missing.returncode == 1 and "no table 'nope'" in missing.stderr


@pytest.fixture
def pg(pg_server: PgServer) -> PgServer:
    return pg_server  # the session server (tests/conftest.py)


def test_postgres_table_with_a_composite_key_in_a_schema(pg: PgServer, tmp_path):
    with pg.fresh_database() as name:
        with pg.connect(name, autocommit=True) as db:
            db.execute("create schema sales")
            db.execute(
                "create table sales.order_lines (order_id int, line_no int, sku text not null, qty numeric(10,2), "
                "created_at timestamptz not null, modified_at timestamptz, primary key (order_id, line_no))"
            )
            db.execute("create table public.notes (id serial primary key, body text)")
        c = pg.conninfo(name)
        conn = json.dumps({"conn_type": "postgres", "host": c.host, "port": c.port, "login": c.login,
                           "password": c.password, "schema": name})  # fmt: skip
        listed = _cli(tmp_path, "tables", "pg", AIRFLOW_CONN_PG=conn)
        assert listed.returncode == 0, listed.stderr
        assert "  notes" in listed.stdout and "  sales.order_lines" in listed.stdout
        shown = _cli(tmp_path, "tables", "pg.sales.order_lines", AIRFLOW_CONN_PG=conn)
        assert shown.returncode == 0, shown.stderr
        assert "primary key: order_id, line_no" in shown.stdout
        assert "likely cursor columns: modified_at, created_at" in shown.stdout
        assert any(line.split()[:2] == ["qty", "numeric"] for line in shown.stdout.splitlines())


def test_new_proposes_cursor_key_and_columns_from_the_source(demo_repo, tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO), "TERM": "xterm",
           "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow")}  # fmt: skip
    term = Terminal(tmp_path, demo_repo, env)
    try:
        term.type(f"{sys.executable} -m dag_factory.cli new shop_refunds --source shop_db.orders --demo")
        at = term.wait_for("primary key: id; likely cursor: updated_at, created_at")
        for prompt, answer in [
            ("target CONN.SCHEMA.TABLE", "warehouse.analytics.refunds"),
            ("load mode", ""),
            ("cursor column (places a row in an interval, e.g. updated_at) [updated_at]", ""),  # proposed: Enter
            ("primary key columns, comma-separated (Enter: id) [id]", ""),  # proposed: Enter
            ("schedule", ""),
            ("start_date (YYYY-MM-DD)", "2024-03-01"),
            ("load the rows from before start_date once", "n"),
            ("lake path", ""),
        ]:
            at = term.wait_for(prompt, at)
            term.type(answer)
        at = term.wait_for("wrote pipelines/shop_refunds.yaml", at)
        # the history command starts at the day of the oldest updated_at in the source
        at = term.wait_for("You chose not to load them now; to load them later", at)
        term.wait_for("the oldest updated_at in shop_db.orders is 2024-02-29", at)
        term.wait_for("dag-factory run shop_refunds --from 2024-02-29 --to 2024-02-29", at)
    finally:
        term.close()
    p = load_pipelines(demo_repo / "pipelines").pipelines["shop_refunds"]
    assert (p.load.cursor, p.load.primary_key) == ("updated_at", ("id",))
    text = (demo_repo / "pipelines/shop_refunds.yaml").read_text()
    assert "# columns: [id, customer_id, product_id, status, amount, note, order_date, created_at, updated_at]" in text
