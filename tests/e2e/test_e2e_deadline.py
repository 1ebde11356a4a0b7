"""A deadline alert fires in a running Airflow: a pipeline with `alerts.deadline: 20s` whose
run is still waiting (its file sensor waits for a file that never arrives) when the deadline
passes. The scheduler notices, the triggerer runs dag_factory's deadline callback, and the
callback posts the on_failure channel's Teams card to a receiver on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.support.airflow_server import AirflowServer, ApiError
from tests.support.receivers import http_receiver

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

NAME = "deadline_probe"
PIPELINE = """\
version: 1
name: deadline_probe
description: Waits for a file that never arrives, past its deadline
schedule: null
retries: 0
source:
  type: file
  conn_id: lake
  path: "never/{{ ds }}/*.csv"
  format: csv
  wait: {timeout: 15m, poke_interval: 10s}
load: {mode: snapshot}
target: {conn_id: warehouse, table: analytics.deadline_probe}
alerts:
  deadline: 20s
  on_failure: [{teams: deadline_hook}]
"""


def _cards(requests: list[dict]) -> list[str]:
    """The summaries of the Teams cards received."""
    out = []
    for r in requests:
        try:
            out.append(r["body"]["attachments"][0]["content"]["body"][0]["text"])
        except (KeyError, IndexError, TypeError):
            out.append(str(r["body"])[:200])
    return out


def test_deadline_alert_reaches_the_failure_channel(parsed_server: AirflowServer):
    server = parsed_server
    run_id = "deadline_probe_e2e"
    with http_receiver() as (url, got):
        server.request(
            "POST", "/api/v2/connections", {"connection_id": "deadline_hook", "conn_type": "http", "password": f"{url}/teams"}
        )
        path = server.pipelines / f"{NAME}.yaml"
        path.write_text(PIPELINE)
        try:
            server.wait_for(f"the DAG {NAME} to be parsed", lambda: (NAME in server.dags(), server.import_errors()), timeout=180)
            server.trigger(NAME, run_id, None)
            cards = server.wait_for(
                "the deadline alert at the receiver",
                lambda: (any("missed its deadline" in c for c in _cards(got.requests)), _cards(got.requests)),
                timeout=300,
            )
            (card,) = [c for c in cards if "missed its deadline" in c]
            assert card == f"Pipeline {NAME} missed its deadline (0:00:20 after it was queued)"
            run = server.get(f"/api/v2/dags/{NAME}/dagRuns/{run_id}")
            assert run["state"] in ("queued", "running"), run  # the alert came while the run was still going
        finally:
            # stop the waiting run and remove the pipeline, so later tests find the server idle
            path.unlink(missing_ok=True)
            try:
                server.request("PATCH", f"/api/v2/dags/{NAME}/dagRuns/{run_id}", {"state": "failed"})
            except ApiError as exc:  # never triggered: nothing to stop
                print(f"could not stop {run_id}: {exc}")
