"""Issue 13.2: `dag-factory connections` lists what the pipelines need, where Airflow finds each
one, and a template for the missing; `run --demo` works against the demo without JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from dag_factory.demo import shop

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "DAG_FACTORY_"))}
    return {**base, "AIRFLOW_HOME": str(tmp_path / "airflow"), "PYTHONPATH": str(REPO), **extra}


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "pipelines", repo / "pipelines")
    return repo


def _row(out: str, conn_id: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(conn_id + " "))


def test_lists_needed_found_and_missing_connections_with_templates(tmp_path):
    repo = _repo(tmp_path)
    shop_db = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")})
    out = _cli(repo, _env(tmp_path, AIRFLOW_CONN_SHOP_DB=shop_db), "connections")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "found: environment variable AIRFLOW_CONN_SHOP_DB" in _row(text, "shop_db")
    assert "source of shop_orders" in _row(text, "shop_db")
    for missing in ("warehouse", "lake", "slack_alerts"):
        assert "MISSING" in _row(text, missing), text
    assert "3 missing." in text
    assert "airflow connections add warehouse --conn-type duckdb --conn-host /path/to/warehouse.duckdb" in text
    assert 'export AIRFLOW_CONN_LAKE=\'{"conn_type": "fs", "extra": {"path": "/path/to/lake"}}\'' in text
    assert "airflow connections add slack_alerts --conn-type slackwebhook --conn-password" in text


def test_a_connection_in_the_metadata_db_is_found_there(tmp_path):
    repo = _repo(tmp_path)
    env = _env(tmp_path)
    airflow = [str(Path(sys.executable).with_name("airflow"))]
    migrate = subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    add = [*airflow, "connections", "add", "warehouse", "--conn-type", "duckdb", "--conn-host", str(tmp_path / "wh.duckdb")]
    added = subprocess.run(add, env=env, capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr[-2000:]
    out = _cli(repo, env, "connections")
    assert "found: the Airflow metadata DB" in _row(out.stdout, "warehouse"), out.stdout + out.stderr
    assert "MISSING" in _row(out.stdout, "shop_db")


def test_run_works_against_the_demo_without_json_and_the_printed_exports_work_too(tmp_path):
    repo = _repo(tmp_path)
    home = repo / ".demo"
    shop.create(home / "shop.db", date(2024, 3, 1))
    shop.simulate_day(home / "shop.db", date(2024, 3, 1))
    env = _env(tmp_path)

    ran = _cli(repo, env, "run", "shop_orders", "--date", "2024-03-01", "--demo")
    assert ran.returncode == 0, ran.stderr
    assert "using the demo's connections from .demo/: shop_db, lake, warehouse" in ran.stdout
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        loaded = db.execute("select count(*) from analytics.orders").fetchone()[0]
    assert loaded > 0

    listed = _cli(repo, env, "connections", "--demo")
    exports = [line.strip() for line in listed.stdout.splitlines() if line.strip().startswith("export AIRFLOW_CONN_")]
    assert len(exports) == 4  # shop_db, lake, warehouse with the demo's values; slack_alerts as a template
    script = "\n".join([*exports, f"{shlex_join([sys.executable, '-m', 'dag_factory.cli'])} run shop_products --date 2024-03-01"])
    shell = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert shell.returncode == 0, shell.stderr
    assert "publish: analytics.products" in shell.stdout


def shlex_join(parts: list[str]) -> str:
    import shlex

    return shlex.join(parts)
