"""`dag-factory run` and `show` as a user types them, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from dag_factory.demo import shop

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def shop_env(tmp_path) -> dict[str, str]:
    shop.create(tmp_path / "shop.db", date(2024, 3, 1))
    shop.simulate_day(tmp_path / "shop.db", date(2024, 3, 1))
    return {
        "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")}),
        "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "lake")}}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "wh.duckdb")}),
        "DAG_FACTORY_STAGING": str(tmp_path / "staging"),
    }


def test_run_loads_one_interval_and_rerun_changes_nothing(shop_env, tmp_path):
    first = _cli("run", "shop_orders", "--date", "2024-03-01", env=shop_env)
    assert first.returncode == 0, first.stderr
    assert "[2024-03-01T03:00:00+00:00, 2024-03-02T03:00:00+00:00)" in first.stdout
    assert (tmp_path / "lake" / "raw/shop/orders/ds=2024-03-01").is_dir()
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        before = db.execute("select * from analytics.orders order by id").fetchall()
    assert before
    again = _cli("run", "shop_orders", "--date", "2024-03-01", env=shop_env)
    assert again.returncode == 0, again.stderr
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        assert db.execute("select * from analytics.orders order by id").fetchall() == before


def test_run_without_the_connection_says_which_and_how(shop_env):
    env = {k: v for k, v in shop_env.items() if k != "AIRFLOW_CONN_WAREHOUSE"}
    out = _cli("run", "shop_products", "--date", "2024-03-01", env=env)
    assert out.returncode == 1
    assert "'warehouse' is not defined" in out.stderr and "AIRFLOW_CONN_WAREHOUSE" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_failure_says_pipeline_file_and_step(shop_env, tmp_path):
    """An error inside a step names the pipeline, its YAML file and the step, not just the cause."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "loc_probe.yaml").write_text(
        "version: 1\nname: loc_probe\nsource: {type: sql, conn_id: shop_db, table: no_such_table}\n"
        "load: {mode: full_refresh}\ntarget: {conn_id: warehouse, table: analytics.loc_probe}\n"
    )
    out = _cli("run", "loc_probe", "--date", "2024-03-01", "--pipelines", str(pipelines), env=shop_env)
    assert out.returncode == 1, out.stdout + out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("dag-factory run:")]
    assert line.startswith(f"dag-factory run: {pipelines / 'loc_probe.yaml'}: pipeline 'loc_probe', step extract: "), line
    assert "no_such_table" in line and "Traceback" not in out.stderr


def test_run_unknown_pipeline_and_bad_date():
    out = _cli("run", "no_such_pipeline", "--date", "2024-03-01")
    assert out.returncode == 1 and "no pipeline 'no_such_pipeline'" in out.stderr and "shop_orders" in out.stderr
    out = _cli("run", "shop_orders", "--date", "03/01/2024")
    assert out.returncode == 2 and "YYYY-MM-DD" in out.stderr


def test_show_prints_resolved_config_and_tasks_without_secrets(shop_env):
    secrets = {"SHOP_DB": "shop-pw-4f9c2a", "LAKE": "lake-key-91be07", "WAREHOUSE": "wh-pw-7d3e55"}
    env = dict(shop_env)
    for conn, secret in secrets.items():  # connections with credentials, as a deployment has them
        info = json.loads(env[f"AIRFLOW_CONN_{conn}"])
        env[f"AIRFLOW_CONN_{conn}"] = json.dumps({**info, "login": "etl", "password": secret})
    out = _cli("show", "shop_orders", env=env)
    assert out.returncode == 0, out.stderr
    assert '"cursor": "updated_at"' in out.stdout and "CronDataIntervalTimetable('0 3 * * *'" in out.stdout
    tasks = out.stdout.split("\ntasks:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in tasks] == [
        "extract.to_lake",
        "load.stage",
        *(
            f"load.checks.{n}"
            for n in ("row_count", "not_null", "unique", "accepted_values_status", "freshness_updated_at", "sql_1")
        ),
        "load.publish",
    ]
    assert "shop_db.orders -> lake lake:raw/shop/orders" in tasks[0] and "warehouse.analytics.orders" in tasks[-1]
    for secret in secrets.values():
        assert secret not in out.stdout and secret not in out.stderr


def test_run_prints_the_schema_changes(shop_env, tmp_path):
    """A column the source gained is added to the target, and `run` says so (docs/schema-changes.md)."""
    import sqlite3

    assert _cli("run", "shop_orders", "--date", "2024-03-01", env=shop_env).returncode == 0
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("ALTER TABLE orders ADD COLUMN coupon_code VARCHAR(32)")
        db.execute("UPDATE orders SET coupon_code = 'SPRING'")
    again = _cli("run", "shop_orders", "--date", "2024-03-01", env=shop_env)
    assert again.returncode == 0, again.stderr
    assert "  schema changes: added column coupon_code VARCHAR\n" in again.stdout
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        assert db.execute("select distinct coupon_code from analytics.orders").fetchall() == [("SPRING",)]
