"""The quick parts of `dag-factory demo --ui` (no Airflow started): the environment it
gives standalone, the seeding, the CLI wiring, and that stopping kills a whole
process tree, including a child in its own session (as Airflow's task processes are)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

from dag_factory.cli import _parser, demo_home, standalone


def test_environment_runs_tasks_against_the_chosen_port(tmp_path):
    base = {"PATH": "/usr/bin", "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "DAG_FACTORY_ENV": "prod", "HOME": "/root"}
    env = standalone.standalone_environment(tmp_path, 8123, pipelines=tmp_path / "p", base=base, log_server_ports=(9001, 9002))
    assert env["AIRFLOW__API__PORT"] == "8123"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["DAG_FACTORY_PIPELINES"] == str(tmp_path / "p")
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)  # the venv's `airflow` first
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == ("9001", "9002")
    # the caller's own Airflow settings do not leak in; connections are env variables only
    assert "AIRFLOW__CORE__EXECUTOR" not in env and env["DAG_FACTORY_ENV"] == "local"
    assert json.loads(env["AIRFLOW_CONN_SHOP_DB"])["host"] == str(tmp_path / "shop.db")


def test_seed_has_history_and_recent_days_and_keeps_an_existing_home(tmp_path):
    today = date(2026, 6, 10)
    assert demo_home.seed(tmp_path, 2, fresh=False, today=today) is True
    with sqlite3.connect(tmp_path / "shop.db") as db:
        days = {d for (d,) in db.execute("select distinct date(updated_at) from orders")}
    assert {"2024-03-01", "2024-03-02", "2026-06-07", "2026-06-10"} <= days
    assert demo_home.seed(tmp_path, 2, fresh=False, today=date(2026, 6, 12)) is False  # kept, brought up to date
    with sqlite3.connect(tmp_path / "shop.db") as db:
        (last,) = db.execute("select max(date(updated_at)) from orders").fetchone()
    assert last == "2026-06-12"


def test_cli_parses_ui_and_port():
    args = _parser().parse_args(["demo", "--ui", "--port", "8089", "--home", "x"])
    assert (args.ui, args.port, args.home) == (True, 8089, "x")
    assert _parser().parse_args(["demo"]).ui is False


def test_stop_kills_the_whole_tree_including_other_sessions(tmp_path):
    script = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\n"
        # ignores SIGINT and SIGTERM, like a component that will not stop: needs SIGKILL
        "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(sys.argv[1], 'w').write('up'); time.sleep(300)\n"
    )
    flag = tmp_path / "up"
    proc = subprocess.Popen([sys.executable, "-c", script, str(flag)], start_new_session=True)
    deadline = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) == 3
    standalone.stop_standalone(proc, grace=2)  # bounded waits: returns even if something survived
    alive = [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive
    assert proc.returncode is not None
