"""Issue 13.9: a pipeline without a lake is never described as reading "from the lake"."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from dag_factory.config.loader import load_pipelines
from dag_factory.demo import shop

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300
    )


def test_run_show_and_the_dag_say_local_staging_when_there_is_no_lake(tmp_path):
    shop.create(tmp_path / "shop.db", date(2024, 3, 1))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "wh.duckdb")}),
        "DAG_FACTORY_STAGING": str(tmp_path / "staging"),
    }
    pipeline = load_pipelines(REPO / "pipelines").pipelines["shop_products"]
    assert pipeline.lake is None and not pipeline.in_warehouse  # the case this test is about

    run = _cli("run", "shop_products", "--date", "2024-03-01", env=env)
    assert run.returncode == 0, run.stderr
    assert "-> local staging ds=2024-03-01" in run.stdout
    assert "lake" not in run.stdout

    show = _cli("show", "shop_products", env=env)
    assert show.returncode == 0, show.stderr
    assert "(from local staging)" in show.stdout and "from the lake" not in show.stdout

    from dag_factory.airflow.builder import build_dag

    stage = build_dag(pipeline).get_task("load.stage")
    assert stage.task_display_name == "Stage (write) from local staging"
    with_lake = load_pipelines(REPO / "pipelines").pipelines["shop_orders"]
    assert build_dag(with_lake).get_task("load.stage").task_display_name == "Stage (write) from the lake"
