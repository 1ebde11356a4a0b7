"""The example pipelines on a CeleryExecutor cluster: api-server, scheduler, dag-processor,
triggerer and two Celery workers, each with its own AIRFLOW_HOME and working directory,
sharing only the DAG bundle and the PostgreSQL metadata DB; Redis as the broker; the shop
(source) and the warehouse on another PostgreSQL server; the lake on moto's S3 server.

`DAG_FACTORY_ENV=prod` selects the example pipelines' production set-up (every pipeline that
leaves the warehouse lands in the S3 lake `s3_lake`; the warehouse connection is `redshift`,
here a PostgreSQL server: a connection's type decides the warehouse). Runs are triggered
through the REST API; the assertions: every run succeeds, the tasks of one run ran on both
workers, publishes queue in the per-warehouse pool, nothing was staged on a worker's disk,
and the warehouse equals the source.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from dag_factory.airflow.pools import publish_pool
from dag_factory.cli import standalone
from dag_factory.cli.demo_home import FIRST_DAY
from dag_factory.demo import shop
from tests.e2e.conftest import EXAMPLE_DAGS
from tests.support.airflow_cluster import Cluster, airflow_cluster
from tests.support.airflow_server import REPO
from tests.support.moto_server import DUMMY_ENV, MotoServer, moto_server
from tests.support.postgres import PgServer, postgres_server
from tests.support.redis import redis_server

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres]

WORKERS = ("worker-a", "worker-b")
WAREHOUSE = "redshift"  # the prod environment's target connection id; a PostgreSQL server here
# the shop's history lies on 2024-02-29 (shop.create); these logical dates load exactly that day
RUNS = {
    "shop_orders": "2024-03-01T03:00:00Z",  # cron 0 3 * * *: interval 02-29 03:00 -> 03-01 03:00
    "shop_customers": "2024-03-01T00:00:00Z",  # @daily: 02-29 -> 03-01
    "shop_products": "2024-03-01T00:00:00Z",
}
AFTER = "daily_sales_report"  # `after:` both shop loads; triggered by REST once they are done
ORDERS = "id, customer_id, product_id, status, amount, note, order_date, created_at, updated_at"
CUSTOMERS = "id, name, email, city, signup_date, updated_at"
PRODUCTS = "id, name, category, price, active"


@dataclass
class Loaded:
    cluster: Cluster
    data: PgServer
    moto: MotoServer
    bucket: str
    runs: dict[str, dict]  # dag_id -> the finished run
    tasks: dict[str, list[dict]]  # dag_id -> its run's task instances


def seed_shop(root: Path, data: PgServer) -> None:
    """The demo shop (SQLite, one day of history), copied into the PostgreSQL database `shop`
    that both workers reach over the network."""
    sqlite_db = root / "shop.db"
    shop.create(sqlite_db, FIRST_DAY)
    with data.connect(autocommit=True) as admin:
        admin.execute("CREATE DATABASE shop")
        admin.execute("CREATE DATABASE warehouse")
    with closing(sqlite3.connect(sqlite_db)) as src, data.connect("shop") as dst:
        for statement in filter(str.strip, shop.SCHEMA.split(";")):
            dst.execute(statement)
        for table, columns in (("customers", CUSTOMERS), ("products", PRODUCTS), ("orders", ORDERS)):
            rows = src.execute(f"select {columns} from {table}").fetchall()  # noqa: S608 - fixed names
            if table == "products":
                rows = [(*r[:4], bool(r[4])) for r in rows]
            marks = ", ".join(["%s"] * len(rows[0]))
            dst.cursor().executemany(f"insert into {table} ({columns}) values ({marks})", rows)  # noqa: S608


def bundle_folder(root: Path) -> Path:
    """The DAG bundle as shipped to every component: generate.py with pipelines/ inside."""
    bundle = root / "bundle"
    bundle.mkdir()
    shutil.copy(REPO / "dags" / "generate.py", bundle / "generate.py")
    shutil.copytree(REPO / "pipelines", bundle / "pipelines")
    return bundle


def connections(data: PgServer, moto: MotoServer, bucket: str) -> dict[str, str]:
    def pg(database: str) -> str:
        return json.dumps({"conn_type": "postgres", "host": data.host, "port": data.port, "login": data.user, "schema": database})

    def aws(**extra: str) -> str:
        extra.update(region_name=moto.region, endpoint_url=moto.endpoint_url)
        return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})

    return {
        **DUMMY_ENV,
        "DAG_FACTORY_ENV": "prod",
        "AIRFLOW_CONN_SHOP_DB": pg("shop"),
        f"AIRFLOW_CONN_{WAREHOUSE.upper()}": pg("warehouse"),
        "AIRFLOW_CONN_S3_LAKE": aws(bucket=bucket, prefix="lake"),
        # task logs go to S3 as well: the api-server shows a worker's task log without reaching that worker
        "AIRFLOW_CONN_AWS_LOGS": aws(),
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{bucket}/logs",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_logs",
    }


def task_instances(cluster: Cluster, dag_id: str, run_id: str) -> list[dict]:
    return cluster.server.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp("celery-e2e")
    started = time.monotonic()
    with ExitStack() as stack:
        metadata = stack.enter_context(postgres_server())
        data = stack.enter_context(postgres_server())
        broker = stack.enter_context(redis_server())
        moto = stack.enter_context(moto_server())
        bucket = moto.new_bucket("lake")
        with metadata.connect(autocommit=True) as admin:
            admin.execute("CREATE DATABASE airflow")
        metadata_url = f"postgresql+psycopg://{metadata.user}@{metadata.host}:{metadata.port}/airflow"
        seed_shop(root, data)
        bundle = bundle_folder(root)
        cluster = stack.enter_context(
            airflow_cluster(root, bundle, metadata_url, broker.url(), connections(data, moto, bucket), workers=WORKERS)
        )
        server = cluster.server
        pools = standalone.create_pools(server.base_url, server.token, bundle / "pipelines", env="prod", slots=1)
        assert pools == [publish_pool(WAREHOUSE)]

        def parsed():
            dags, errors = server.dags(), server.import_errors()
            return EXAMPLE_DAGS <= set(dags) and not errors, {"dags": sorted(dags), "import_errors": errors}

        server.wait_for("the example DAGs to be parsed without import errors", parsed, timeout=180)
        ready = time.monotonic()

        for dag_id, logical_date in RUNS.items():
            server.trigger(dag_id, "celery_e2e", logical_date)
        runs = {dag_id: cluster.wait_for_run(dag_id, "celery_e2e", timeout=240) for dag_id in RUNS}
        server.trigger(AFTER, "celery_e2e", None)
        runs[AFTER] = cluster.wait_for_run(AFTER, "celery_e2e", timeout=240)
        tasks = {dag_id: task_instances(cluster, dag_id, "celery_e2e") for dag_id in runs}
        print(
            f"\ncluster + servers ready after {ready - started:.0f}s; {sum(map(len, tasks.values()))} tasks of "
            f"{len(runs)} runs done {time.monotonic() - ready:.0f}s later; on: "
            + json.dumps({d: sorted({t["hostname"] for t in tis}) for d, tis in tasks.items()})
        )
        for dag_id, tis in tasks.items():
            print(
                f"  {dag_id}: " + ", ".join(f"{t['task_id']}@{t['hostname']}" for t in sorted(tis, key=lambda t: t["start_date"]))
            )
        yield Loaded(cluster, data, moto, bucket, runs, tasks)


def test_one_run_has_tasks_on_both_workers(loaded: Loaded):
    for dag_id, tis in loaded.tasks.items():
        assert tis and all(t["state"] == "success" for t in tis), (dag_id, tis)
        assert {t["hostname"] for t in tis} <= set(WORKERS), (dag_id, [(t["task_id"], t["hostname"]) for t in tis])
    orders = loaded.tasks["shop_orders"]  # extract, stage, 6 checks in parallel, publish
    by_worker = {w: sorted(t["task_id"] for t in orders if t["hostname"] == w) for w in WORKERS}
    assert all(by_worker.values()), by_worker


def test_publishes_queue_in_the_warehouse_pool(loaded: Loaded):
    pool = loaded.cluster.server.get(f"/api/v2/pools/{publish_pool(WAREHOUSE)}")
    assert pool["slots"] == 1, pool
    publishes = [t for tis in loaded.tasks.values() for t in tis if t["task_id"] == "load.publish"]
    assert len(publishes) == len(loaded.runs)
    assert {t["pool"] for t in publishes} == {publish_pool(WAREHOUSE)}
    others = {t["pool"] for tis in loaded.tasks.values() for t in tis if t["task_id"] != "load.publish"}
    assert others == {"default_pool"}
    # one slot: no two publishes into the warehouse overlapped, though three runs were queued together
    spans = sorted((datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"])) for t in publishes)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, spans


def test_task_logs_of_both_workers_are_read_through_the_api_server(loaded: Loaded):
    """Remote logging on S3: the api-server reads a worker's task log from the bucket
    (workers serve no logs themselves here)."""
    server = loaded.cluster.server
    seen = set()
    for t in loaded.tasks["shop_orders"]:
        if t["task_id"] not in ("load.publish", "extract.to_lake"):
            continue
        path = f"/api/v2/dags/shop_orders/dagRuns/celery_e2e/taskInstances/{t['task_id']}/logs/{t['try_number']}"
        events = server.get(path)["content"]
        text = "\n".join(str(e.get("event", "")) if isinstance(e, dict) else str(e) for e in events)
        expected = "published analytics.orders" if t["task_id"] == "load.publish" else "extracted"
        assert expected in text, (t["task_id"], t["hostname"], text[-3000:])
        seen.add(t["hostname"])
    assert seen <= set(WORKERS)
    s3 = loaded.moto.client("s3")
    logs = s3.list_objects_v2(Bucket=loaded.bucket, Prefix="logs/dag_id=shop_orders/").get("Contents", [])
    assert len(logs) == len(loaded.tasks["shop_orders"]), [o["Key"] for o in logs]


def test_data_went_through_the_s3_lake_not_a_worker_disk(loaded: Loaded):
    keys = [o["Key"] for o in loaded.moto.client("s3").list_objects_v2(Bucket=loaded.bucket).get("Contents", [])]
    for table in ("orders", "customers", "products"):
        assert f"lake/raw/shop/{table}/_manifests/ds=2024-02-29.json" in keys, keys
    for component in loaded.cluster.components.values():
        staged = [p for p in (component.home / "staging").rglob("*") if p.is_file()]
        assert staged == [], (component.name, staged)


def test_the_warehouse_equals_the_source(loaded: Loaded):
    with loaded.data.connect("shop") as src, loaded.data.connect("warehouse") as wh:

        def both(source_sql: str, warehouse_sql: str) -> tuple[list, list]:
            return src.execute(source_sql).fetchall(), wh.execute(warehouse_sql).fetchall()

        source, target = both(f"select {ORDERS} from orders order by id", f"select {ORDERS} from analytics.orders order by id")
        assert len(source) == 20 and target == source
        source, target = both(
            f"select {CUSTOMERS} from customers order by id",
            f"select {CUSTOMERS} from analytics.customers_snapshot "
            "where snapshot_date = (select max(snapshot_date) from analytics.customers_snapshot) order by id",
        )
        assert len(source) == 10 and target == source
        source, target = both(
            f"select {PRODUCTS} from products order by id", f"select {PRODUCTS} from analytics.products order by id"
        )
        assert len(source) == 8 and target == source
        source, target = both(
            "select o.order_date, c.city, count(*), sum(o.amount) from orders o join customers c on c.id = o.customer_id "
            "where o.status = 'paid' group by 1, 2 order by 1, 2",
            "select order_date, city, orders, revenue from marts.daily_sales order by 1, 2",
        )
        assert source and target == source
