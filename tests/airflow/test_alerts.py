"""Alerts leave through the real notifiers to receivers on 127.0.0.1: Slack (providers-slack
webhook notifier), Teams (Workflows webhook card) and e-mail (providers-smtp), on failure and
on success; no connection secret appears in a payload or in the run's output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dag_factory.demo import shop
from tests.support.receivers import http_receiver, smtp_receiver

REPO = Path(__file__).resolve().parents[2]
SLACK_SECRET = "T0SECRET/B0SECRET/slack-marker-8c1f2e"
TEAMS_SECRET = "teams-sig-marker-51d0aa"
pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PIPELINE = """
version: 1
name: {name}
schedule: "@daily"
start_date: 2024-03-01
retries: 0
source: {{type: sql, conn_id: shop_db, table: {table}}}
load: {{mode: full_refresh}}
target: {{conn_id: warehouse, table: analytics.{name}}}
alerts:
  on_failure: [{{slack: slack_alerts}}, {{teams: teams_alerts}}, {{email: [oncall@example.com]}}]
  on_success: [{{teams: teams_alerts}}]
"""

RUN = """
import sys
from datetime import datetime, timezone
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
run = bag.dags[sys.argv[2]].test(logical_date=datetime(2024, 3, 2, tzinfo=timezone.utc))
print("STATE", run.state)
"""


def _run(tmp_path: Path, name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", RUN, str(REPO / "dags"), name], capture_output=True, text=True, env=full, timeout=300
    )


@pytest.fixture
def alert_env(tmp_path, airflow_db):
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "alert_ok.yaml").write_text(PIPELINE.format(name="alert_ok", table="products"))
    (pipelines / "alert_broken.yaml").write_text(PIPELINE.format(name="alert_broken", table="no_such_table"))
    shop.create(tmp_path / "shop.db", date(2024, 3, 1))
    with http_receiver() as (url, http), smtp_receiver() as (smtp_port, smtp):
        env = {
            "DAG_FACTORY_PIPELINES": str(pipelines),
            "DAG_FACTORY_STAGING": str(tmp_path / "staging"),
            "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")}),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "wh.duckdb")}),
            "AIRFLOW_CONN_SLACK_ALERTS": json.dumps(
                {"conn_type": "slackwebhook", "host": f"{url}/slack", "password": SLACK_SECRET}
            ),
            "AIRFLOW_CONN_TEAMS_ALERTS": json.dumps({"conn_type": "http", "password": f"{url}/teams?sig={TEAMS_SECRET}"}),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
                {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port, "extra": {"disable_tls": True, "disable_ssl": True}}
            ),
        }
        yield env, http, smtp


def _facts(card_request: dict) -> dict[str, str]:
    content = card_request["body"]["attachments"][0]["content"]
    facts = next(b for b in content["body"] if b["type"] == "FactSet")["facts"]
    return {f["title"]: f["value"] for f in facts} | {"_summary": content["body"][0]["text"]}


def test_failure_alert_reaches_slack_teams_and_email_without_secrets(tmp_path, alert_env):
    env, http, smtp = alert_env
    out = _run(tmp_path, "alert_broken", env)
    assert "STATE failed" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    task_log = out.stdout + out.stderr  # dag.test() writes the task log to the console
    assert "dag_factory: " in task_log and "alert_broken.yaml: pipeline 'alert_broken', step extract: " in task_log
    slack = [r for r in http.requests if r["path"].startswith("/slack")]
    teams = [r for r in http.requests if r["path"].startswith("/teams")]
    assert len(slack) == 1 and len(teams) == 1 and len(smtp.mails) == 1, (http.requests, smtp.mails)
    assert slack[0]["path"] == "/slack/" + SLACK_SECRET  # the secret is the address, not the message
    text = slack[0]["body"]["text"]
    assert "Pipeline alert_broken failed" in text and "extract.to_lake" in text and "no_such_table" in text
    assert "2024-03-01T00:00:00+00:00 -> 2024-03-02T00:00:00+00:00" in text
    facts = _facts(teams[0])
    assert facts["_summary"] == "Pipeline alert_broken failed"
    assert facts["DAG"] == "alert_broken" and facts["Run"].startswith("manual__") and "2024-03-01T00:00:00" in facts["Interval"]
    assert "no_such_table" in facts["Error"]
    assert "alert_broken.yaml: pipeline 'alert_broken', step extract" in facts["Error"]  # where, not just what
    assert teams[0]["body"]["attachments"][0]["content"]["actions"][0]["url"].startswith("http")  # log link
    assert "Subject: Pipeline alert_broken failed" in smtp.mails[0] and "oncall@example.com" in smtp.mails[0]
    everything = json.dumps(http.requests) + "".join(smtp.mails) + out.stdout + out.stderr
    for secret in (SLACK_SECRET.split("/")[-1], TEAMS_SECRET):
        assert secret not in json.dumps([r["body"] for r in http.requests]) + "".join(smtp.mails)
    assert TEAMS_SECRET not in out.stdout + out.stderr
    assert "slack-marker" not in everything.replace("/slack/" + SLACK_SECRET, "")


def test_success_alert_carries_rows_loaded(tmp_path, alert_env):
    env, http, smtp = alert_env
    out = _run(tmp_path, "alert_ok", env)
    assert "STATE success" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert smtp.mails == [] and not [r for r in http.requests if r["path"].startswith("/slack")]
    (teams,) = [r for r in http.requests if r["path"].startswith("/teams")]
    facts = _facts(teams)
    assert facts["_summary"] == "Pipeline alert_ok succeeded"
    assert facts["Rows loaded"] == "8"  # the demo shop's 8 products


def test_a_failed_delivery_is_reported_in_the_task_log_and_the_other_channels_still_get_it(tmp_path, alert_env):
    env, http, smtp = alert_env
    with socket.socket() as probe:  # a port nobody listens on: the Teams POST is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    env = {
        **env,
        "AIRFLOW_CONN_TEAMS_ALERTS": json.dumps(
            {"conn_type": "http", "password": f"http://127.0.0.1:{closed}/teams?sig={TEAMS_SECRET}"}
        ),
    }
    out = _run(tmp_path, "alert_broken", env)
    log = out.stdout + out.stderr  # dag.test() writes the task log to the console
    assert "STATE failed" in out.stdout, log[-4000:]
    assert "dag_factory: failure alert via teams teams_alerts failed: ConnectionError" in log, log[-4000:]
    assert len([r for r in http.requests if r["path"].startswith("/slack")]) == 1 and len(smtp.mails) == 1
    assert TEAMS_SECRET not in log  # the failing URL is the secret: never logged
