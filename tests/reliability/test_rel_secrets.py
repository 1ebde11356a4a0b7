"""Connection passwords never leave the connection: not in `dag-factory run` or `show` output,
not in a DAG's doc_md, not in alert payloads, not in Airflow's task output.

Every connection (source, lake, warehouse, alert channels) carries a unique marker as its
password; PostgreSQL here trusts local connections, so the marker is accepted and really
used. Runs that succeed and runs that fail inside the engine (a connection that cannot be
reached, a missing source table) are grepped in full for the marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dag_factory.demo import shop

REPO = Path(__file__).resolve().parents[2]
MARKER = "pw-marker-5f3c9a1e77"
pytestmark = [pytest.mark.postgres]

PIPELINE = """
version: 1
name: {name}
schedule: "@daily"
start_date: 2024-03-01
retries: 0
source: {{type: sql, conn_id: shop_db, table: {table}}}
load: {{mode: full_refresh}}
lake: {{conn_id: lake, path: raw/{name}}}
target: {{conn_id: {target}, table: analytics.{name}}}
alerts:
  on_failure: [{{slack: slack_alerts}}, {{teams: teams_alerts}}, {{email: [oncall@example.com]}}]
  on_success: [{{teams: teams_alerts}}]
"""


@pytest.fixture
def env(tmp_path, pg_conn) -> dict[str, str]:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    for name, table, target in [
        ("sec_ok", "products", "warehouse"),
        ("sec_no_table", "no_such_table", "warehouse"),
        ("sec_unreachable", "products", "warehouse_down"),
    ]:
        (pipelines / f"{name}.yaml").write_text(PIPELINE.format(name=name, table=table, target=target))
    shop.create(tmp_path / "shop.db", date(2024, 3, 1))
    pg = {"conn_type": "postgres", "host": pg_conn.host, "port": pg_conn.port, "login": pg_conn.login, "schema": pg_conn.database}
    return {
        "DAG_FACTORY_PIPELINES": str(pipelines),
        "DAG_FACTORY_STAGING": str(tmp_path / "staging"),
        "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db"), "password": MARKER}),
        "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "password": MARKER, "extra": {"path": str(tmp_path / "lake")}}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps(pg | {"password": MARKER}),
        "AIRFLOW_CONN_WAREHOUSE_DOWN": json.dumps(pg | {"port": 1, "password": MARKER, "extra": {"connect_timeout": 3}}),
    }


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=300,
    )


def test_run_and_show_never_print_a_connection_password(env, tmp_path):
    outputs = []
    ok = _cli(["run", "sec_ok", "--date", "2024-03-01"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "publish: analytics.sec_ok: 8 rows inserted" in ok.stdout  # the marker password was really used
    missing = _cli(["run", "sec_no_table", "--date", "2024-03-01"], env, tmp_path)
    assert missing.returncode == 1 and "no_such_table" in missing.stderr
    down = _cli(["run", "sec_unreachable", "--date", "2024-03-01"], env, tmp_path)
    assert down.returncode == 1 and "cannot connect to PostgreSQL connection warehouse_down" in down.stderr
    outputs += [ok, missing, down]
    for name in ("sec_ok", "sec_no_table", "sec_unreachable"):
        shown = _cli(["show", name], env, tmp_path)
        assert shown.returncode == 0, shown.stderr
        outputs.append(shown)
    for proc in outputs:
        assert "Traceback" not in proc.stderr
        assert MARKER not in proc.stdout + proc.stderr, proc.args


RUN = """
import sys
from datetime import datetime, timezone
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
for name in sys.argv[2:]:
    dag = bag.dags[name]
    print("DOC", name, dag.doc_md.replace("\\n", " "))
    run = dag.test(logical_date=datetime(2024, 3, 2, tzinfo=timezone.utc))
    print("STATE", name, run.state)
"""


@pytest.mark.slow
@pytest.mark.airflow
def test_doc_md_alerts_and_task_output_never_carry_a_connection_password(env, tmp_path, airflow_db):
    from tests.support.receivers import http_receiver, smtp_receiver

    with http_receiver() as (url, http), smtp_receiver() as (smtp_port, smtp):
        full = (
            {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
            | env
            | {
                "AIRFLOW_CONN_SLACK_ALERTS": json.dumps(
                    {"conn_type": "slackwebhook", "host": f"{url}/slack", "password": f"T0/B0/{MARKER}"}
                ),
                "AIRFLOW_CONN_TEAMS_ALERTS": json.dumps({"conn_type": "http", "password": f"{url}/teams?sig={MARKER}"}),
                "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
                    {
                        "conn_type": "smtp",
                        "host": "127.0.0.1",
                        "port": smtp_port,
                        "password": MARKER,
                        "extra": {"disable_tls": True, "disable_ssl": True},
                    }
                ),
            }
        )
        proc = subprocess.run(
            [sys.executable, "-c", RUN, str(REPO / "dags"), "sec_ok", "sec_no_table", "sec_unreachable"],
            capture_output=True,
            text=True,
            env=full,
            timeout=600,
        )
    out = proc.stdout + proc.stderr
    assert "STATE sec_ok success" in proc.stdout, out[-3000:]
    assert "STATE sec_no_table failed" in proc.stdout and "STATE sec_unreachable failed" in proc.stdout, out[-3000:]
    docs = [line for line in proc.stdout.splitlines() if line.startswith("DOC ")]
    assert len(docs) == 3 and all("full_refresh" in d or "full refresh" in d.lower() for d in docs)
    payloads = json.dumps([r["body"] for r in http.requests]) + "".join(smtp.mails)
    assert len([r for r in http.requests if r["path"].startswith("/teams")]) == 3  # 1 success + 2 failures
    assert len(smtp.mails) == 2 and "cannot connect to PostgreSQL connection warehouse_down" in payloads
    assert MARKER not in payloads
    # the only place the marker may travel is the address it is part of (Slack's webhook path, Teams' URL)
    assert MARKER not in out, [line for line in out.splitlines() if MARKER in line][:5]
