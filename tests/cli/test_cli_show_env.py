"""`dag-factory show NAME --env prod`: the example pipelines' prod config (S3 lake, Redshift)
and task graph, printed without touching AWS: no network connection, no boto3, no Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs the CLI with every outgoing connection refused, then reports which heavy modules got imported.
_GUARD = textwrap.dedent(
    """
    import json, socket, sys
    def refuse(*a, **k):
        raise OSError("network access during dag-factory show")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    from dag_factory.cli import main
    rc = main(sys.argv[1:])
    loaded = sorted(m for m in ("boto3", "botocore", "airflow", "pymysql", "requests", "psycopg", "duckdb") if m in sys.modules)
    print("@@" + json.dumps({"rc": rc, "loaded": loaded}))
    """
)


def _show(*args: str) -> tuple[dict, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AWS_", "DAG_FACTORY_ENV"))}
    env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    proc = subprocess.run(
        [sys.executable, "-c", _GUARD, "show", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=120
    )
    out = proc.stdout
    status = json.loads(out.rsplit("@@", 1)[1]) if "@@" in out else {"rc": proc.returncode, "loaded": []}
    return status, out.rsplit("@@", 1)[0], proc.stderr


def _resolved(out: str) -> dict:
    body = out.split("\n", 1)[1]
    return json.loads(body[: body.index("\n}\n") + 2])


def test_show_shop_orders_prod():
    status, out, err = _show("shop_orders", "--env", "prod")
    assert status == {"rc": 0, "loaded": []}, err
    assert out.startswith("# shop_orders (pipelines/shop_orders.yaml, environment prod)")
    cfg = _resolved(out)
    assert cfg["lake"] == {"conn_id": "s3_lake", "path": "raw/shop/orders"}
    assert cfg["target"] == {"conn_id": "redshift", "table": "analytics.orders"}
    assert cfg["retries"] == 3 and "environments" not in cfg
    assert cfg["source"] == {"type": "sql", "conn_id": "shop_db", "table": "orders"}
    tasks = out.split("tasks:\n", 1)[1].splitlines()
    assert tasks[0].split() == ["extract.to_lake", "shop_db.orders", "->", "lake", "s3_lake:raw/shop/orders"]
    assert tasks[1].startswith("  load.stage ")
    assert tasks[-1].split() == ["load.publish", "->", "redshift.analytics.orders", "(incremental)"]
    assert len([t for t in tasks if t.strip().startswith("load.checks.")]) == 6


def test_show_local_is_unchanged():
    status, out, err = _show("shop_orders")
    assert status["rc"] == 0, err
    cfg = _resolved(out)
    assert cfg["lake"] == {"conn_id": "lake", "path": "raw/shop/orders"} and cfg["target"]["conn_id"] == "warehouse"
    assert cfg["retries"] == 0


@pytest.mark.parametrize(
    ("name", "lake", "stage"),
    [
        ("shop_customers", {"conn_id": "s3_lake", "path": "raw/shop/customers"}, "from the lake"),
        ("shop_products", {"conn_id": "s3_lake", "path": "raw/shop/products"}, "from the lake"),
        ("daily_sales_report", None, "inside the warehouse"),  # still a transform inside Redshift
    ],
)
def test_every_example_has_a_prod_environment(name, lake, stage):
    status, out, err = _show(name, "--env", "prod")
    assert status == {"rc": 0, "loaded": []}, err
    cfg = _resolved(out)
    assert cfg.get("lake") == lake
    assert cfg["target"]["conn_id"] == "redshift"
    assert f"({stage})" in out
