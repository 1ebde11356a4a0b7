"""resolve() answers AIRFLOW_CONN_<ID> JSON without importing Airflow (issue 15, item 7), and
gives what Airflow itself gives for the same variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dag_factory.airflow.connections import resolve

CASES = {
    "PG_SRC": {
        "conn_type": "postgres",
        "host": "db.example",
        "port": 5433,
        "login": "etl",
        "password": "p@ss:w/rd",
        "schema": "shop",
    },
    "MY_SRC": {
        "conn_type": "mysql",
        "host": "h",
        "port": "3306",
        "login": "u",
        "password": "x",
        "extra": {"ssl": {"ca": "/ca.pem"}},
    },
    "LAKE": {"conn_type": "fs", "extra": json.dumps({"path": "/data/lake"})},
    "WH": {"conn_type": "duckdb", "host": "/data/wh.duckdb"},
}


@pytest.mark.parametrize("conn_id", sorted(CASES))
def test_same_as_airflow(conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(CASES[conn_id]))
    ours = resolve(conn_id.lower())
    from airflow.sdk import BaseHook

    theirs = BaseHook.get_connection(conn_id.lower())
    assert (ours.host, ours.port, ours.login, ours.password, ours.database) == (
        theirs.host,
        theirs.port,
        theirs.login,
        theirs.password,
        theirs.schema,
    )
    assert ours.extra == (theirs.extra_dejson if theirs.extra else {})


def test_json_variables_need_no_airflow_import() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["AIRFLOW_CONN_SRC"] = json.dumps(CASES["PG_SRC"])
    code = "import sys; from dag_factory.airflow.connections import resolve; c = resolve('src'); print(c.kind, 'airflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["postgres", "False"]


def test_uri_form_still_goes_through_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_URI_SRC", "postgres://etl:s%40cret@db.example:5433/shop")
    c = resolve("uri_src")
    assert (c.kind, c.host, c.port, c.login, c.password, c.database) == ("postgres", "db.example", 5433, "etl", "s@cret", "shop")
