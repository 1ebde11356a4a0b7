"""Athena target: the S3 lake partition is the table, registered in the Glue catalog.

Everything runs against moto in server mode over HTTP on 127.0.0.1: the S3 lake and the Glue
API calls (recorded through botocore's event hooks and checked call by call). What Athena
would read is simulated by reading every data file under each registered location, the way
Athena scans a partition; no Athena query is run (moto does not execute SQL)."""

from __future__ import annotations

import copy
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake_s3 import S3Partition
from dag_factory.engine.runner import extract, load
from dag_factory.engine.warehouses.athena import PARQUET_SD, AthenaWarehouse
from dag_factory.errors import ConnectionConfigError, EngineError
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture)

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
IVS = [Interval(DAY1 + timedelta(days=i), DAY1 + timedelta(days=i + 1)) for i in range(3)]


def _at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour)


class Env:
    def __init__(self, m, tmp: Path) -> None:
        self.m = m
        self.bucket = m.new_bucket()
        self.db = f"analytics_{self.bucket[-8:]}"
        self.session = m.session()
        self.calls: list[tuple[str, dict]] = []
        self.session.events.register("before-parameter-build.glue", self._record)
        self.aws = lambda c: AwsContext(self.session, m.endpoint_url)
        self.lake_conn = ConnInfo("lake", "aws", extra={"bucket": self.bucket, "prefix": "raw"})
        self.target_conn = ConnInfo("athena", "aws", extra={"region_name": "us-east-1"})
        self.src_path = tmp / "src.sqlite"
        with sqlite3.connect(self.src_path) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC(12,2), updated_at TIMESTAMP)")
        self.src = ConnInfo("src", "sqlite", host=str(self.src_path))
        self.glue = m.client("glue")
        self.s3 = m.client("s3")

    def _record(self, params, model, **kwargs) -> None:
        self.calls.append((model.name, copy.deepcopy(params)))  # the API call as the engine made it

    def put(self, rows) -> None:
        with sqlite3.connect(self.src_path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                [(i, n, None if a is None else str(a), t.strftime("%Y-%m-%d %H:%M:%S")) for i, n, a, t in rows],
            )

    def delete(self, *ids: int) -> None:
        with sqlite3.connect(self.src_path) as db:
            db.executemany("DELETE FROM orders WHERE id = ?", [(i,) for i in ids])

    def pipeline(self, load_cfg: Load, table: str = "orders") -> Pipeline:
        return Pipeline(
            "orders",
            SqlSource("src", table="orders"),
            load_cfg,
            Target("athena", f"{self.db}.{table}"),
            lake=Lake("lake", "shop/orders"),
        )

    def run(self, p: Pipeline, iv: Interval):
        extract(p, iv, self.src, self.lake_conn, aws=self.aws)
        self.calls.clear()
        return load(p, iv, self.lake_conn, self.target_conn, aws=self.aws)

    def ops(self) -> list[str]:
        return [name for name, _ in self.calls]

    def scan(self, location: str) -> list[int]:
        """What Athena reads for a location: every data file under the prefix (names starting
        with '_' or '.' are hidden), sorted ids."""
        assert location.startswith(f"s3://{self.bucket}/") and location.endswith("/")
        prefix = location[len(f"s3://{self.bucket}/") :]
        ids: list[int] = []
        for o in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", []):
            rel = o["Key"][len(prefix) :]
            if "/" in rel or rel.startswith(("_", ".")):
                continue
            body = self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
            ids += pq.read_table(pa.BufferReader(body)).column("id").to_pylist()
        return sorted(ids)

    def partitions(self, table: str = "orders") -> dict[str, list[int]]:
        parts = self.glue.get_partitions(DatabaseName=self.db, TableName=table)["Partitions"]
        return {p["Values"][0]: self.scan(p["StorageDescriptor"]["Location"]) for p in parts}


@pytest.fixture
def env(moto_aws, tmp_path):  # noqa: F811
    return Env(moto_aws, tmp_path)


ROWS = [
    (1, "a", Decimal("1.10"), _at(1, 0)),
    (2, "b", None, _at(1, 9)),
    (3, "c", Decimal("3.00"), _at(2, 1)),
    (4, "d", Decimal("4.00"), _at(3, 2)),
]


def test_snapshot_registers_one_partition_per_day_and_rerun_replaces_it(env):
    p = env.pipeline(Load("snapshot"))
    env.put(ROWS)
    first = env.run(p, IVS[0])
    assert (first.inserted, first.deleted) == (4, 0)
    assert env.ops() == ["CreateDatabase", "GetTable", "CreateTable", "GetPartition", "CreatePartition"]
    table_input = env.calls[2][1]["TableInput"]
    lake_root = f"s3://{env.bucket}/raw/shop/orders/"
    assert table_input == {
        "Name": "orders",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "dag_factory.mode": "snapshot",
            "dag_factory.lake": lake_root,
        },
        "PartitionKeys": [{"Name": "snapshot_date", "Type": "date"}],
        "StorageDescriptor": {
            "Columns": [
                {"Name": "id", "Type": "bigint"},
                {"Name": "name", "Type": "string"},
                {"Name": "amount", "Type": "decimal(12,2)"},
                {"Name": "updated_at", "Type": "timestamp"},
            ],
            "Location": lake_root,
            **PARQUET_SD,
        },
    }
    created = env.calls[4][1]["PartitionInput"]
    assert created["Values"] == ["2024-03-01"] and created["StorageDescriptor"]["Location"] == lake_root + "ds=2024-03-01/"
    assert created["Parameters"]["dag_factory.rows"] == "4"

    env.put([(5, "e", None, _at(2, 3))])
    env.run(p, IVS[1])
    env.run(p, IVS[2])
    env.delete(1, 2)
    rerun = env.run(p, IVS[1])  # re-run day 2 after deletes: only that day's snapshot changes
    assert (rerun.inserted, rerun.deleted) == (3, 5)
    assert env.ops() == ["CreateDatabase", "GetTable", "GetPartition", "UpdatePartition"]
    assert env.partitions() == {
        "2024-03-01": [1, 2, 3, 4],
        "2024-03-02": [3, 4, 5],
        "2024-03-03": [1, 2, 3, 4, 5],
    }
    # the catalog as Athena sees it
    t = env.glue.get_table(DatabaseName=env.db, Name="orders")["Table"]
    assert t["StorageDescriptor"]["Location"] == lake_root and t["PartitionKeys"] == [{"Name": "snapshot_date", "Type": "date"}]


def test_incremental_partition_per_interval_replaced_on_rerun(env):
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put(ROWS)
    for iv in IVS:
        env.run(p, iv)
    assert env.partitions() == {"2024-03-01": [1, 2], "2024-03-02": [3], "2024-03-03": [4]}
    t = env.glue.get_table(DatabaseName=env.db, Name="orders")["Table"]
    assert t["PartitionKeys"] == [{"Name": "ds", "Type": "string"}]
    env.put([(3, "c2", None, _at(2, 5)), (6, "f", None, _at(2, 6))])
    res = env.run(p, IVS[1])
    assert (res.inserted, res.deleted) == (2, 1)
    assert env.partitions() == {"2024-03-01": [1, 2], "2024-03-02": [3, 6], "2024-03-03": [4]}


def test_incremental_merge_by_key_and_sub_daily_intervals_are_refused(env):
    env.put(ROWS)
    with pytest.raises(EngineError, match="Iceberg"):
        env.run(env.pipeline(Load("incremental", cursor="updated_at", primary_key=("id",))), IVS[0])
    assert env.ops() == []  # refused before any catalog call
    hourly = Interval(DAY1, DAY1 + timedelta(hours=1))
    with pytest.raises(EngineError, match="at least a day"):
        env.run(env.pipeline(Load("incremental", cursor="updated_at")), hourly)
    assert env.ops() == []


def test_full_refresh_switches_the_table_location(env):
    p = env.pipeline(Load("full_refresh"))
    env.put(ROWS)
    first = env.run(p, IVS[0])
    assert (first.inserted, first.deleted) == (4, 0)
    assert env.ops() == ["CreateDatabase", "GetTable", "CreateTable"]
    env.delete(1)
    second = env.run(p, IVS[1])
    assert (second.inserted, second.deleted) == (3, 4)
    assert env.ops() == ["CreateDatabase", "GetTable", "UpdateTable"]  # one catalog write: old or new
    t = env.glue.get_table(DatabaseName=env.db, Name="orders")["Table"]
    assert t["PartitionKeys"] == []
    assert t["StorageDescriptor"]["Location"] == f"s3://{env.bucket}/raw/shop/orders/ds=2024-03-02/"
    assert env.scan(t["StorageDescriptor"]["Location"]) == [2, 3, 4]
    assert t["Parameters"]["dag_factory.rows"] == "3"


def test_changed_columns_under_policy_fail_and_changed_mode_fail_naming_them(env):
    p = env.pipeline(Load("snapshot", on_schema_change="fail"))
    env.put(ROWS)
    env.run(p, IVS[0])
    with sqlite3.connect(env.src_path) as db:
        db.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    with pytest.raises(EngineError, match=r"new column note string"):
        env.run(p, IVS[1])
    assert "CreatePartition" not in env.ops() and "UpdateTable" not in env.ops() and set(env.partitions()) == {"2024-03-01"}
    with pytest.raises(EngineError, match="registered for load mode 'snapshot'"):
        env.run(env.pipeline(Load("incremental", cursor="updated_at")), IVS[0])


def _glue_columns(env, partition: str | None = None) -> list[tuple[str, str]]:
    if partition is None:
        sd = env.glue.get_table(DatabaseName=env.db, Name="orders")["Table"]["StorageDescriptor"]
    else:
        sd = env.glue.get_partition(DatabaseName=env.db, TableName="orders", PartitionValues=[partition])["Partition"][
            "StorageDescriptor"
        ]
    return [(c["Name"], c["Type"]) for c in sd["Columns"]]


BASE_COLUMNS = [("id", "bigint"), ("name", "string"), ("amount", "decimal(12,2)"), ("updated_at", "timestamp")]


@pytest.mark.parametrize("policy", ["append_new_columns", "sync_all_columns", "ignore"])
def test_schema_changes_update_the_glue_columns_and_partitions_keep_theirs(env, policy):
    p = env.pipeline(Load("snapshot", on_schema_change=policy))  # type: ignore[arg-type]
    env.put(ROWS)
    env.run(p, IVS[0])
    with sqlite3.connect(env.src_path) as db:  # the source gains `note` and loses `name`
        db.execute("ALTER TABLE orders ADD COLUMN note TEXT")
        db.execute("ALTER TABLE orders DROP COLUMN name")
    res = env.run(p, IVS[1])
    staged = [("id", "bigint"), ("amount", "decimal(12,2)"), ("updated_at", "timestamp"), ("note", "string")]
    expected = {
        "append_new_columns": [*BASE_COLUMNS, ("note", "string")],
        "sync_all_columns": [c for c in BASE_COLUMNS if c[0] != "name"] + [("note", "string")],
        "ignore": BASE_COLUMNS,
    }[policy]
    assert _glue_columns(env) == expected
    assert ("UpdateTable" in env.ops()) == (policy != "ignore")
    assert _glue_columns(env, "2024-03-01") == BASE_COLUMNS  # each partition: its own files' columns
    assert _glue_columns(env, "2024-03-02") == staged
    assert ("added column note string" in res.changes) == (policy != "ignore")
    assert ("dropped column name string" in res.changes) == (policy == "sync_all_columns")


def test_a_change_athena_cannot_read_fails_naming_the_column(env):
    p = env.pipeline(Load("snapshot"))
    env.put(ROWS)
    env.run(p, IVS[0])
    with sqlite3.connect(env.src_path) as db:  # amount becomes text
        db.execute("ALTER TABLE orders RENAME TO old")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, amount TEXT, updated_at TIMESTAMP)")
        db.execute("INSERT INTO orders SELECT id, name, CAST(amount AS TEXT), updated_at FROM old")
    with pytest.raises(EngineError, match=r"column amount: target decimal\(12,2\), staged string \(not a safe widening\)"):
        env.run(p, IVS[1])
    assert _glue_columns(env) == BASE_COLUMNS and set(env.partitions()) == {"2024-03-01"}


def test_type_mapping_and_names(env):
    types = AthenaWarehouse.capabilities.types
    assert types.to_sql(pa.timestamp("us", tz="UTC"), "t") == "timestamp"
    assert types.to_sql(pa.decimal128(38, 10), "d") == "decimal(38,10)"
    assert types.to_sql(pa.date32(), "d") == "date"
    for t in (pa.uint32(), pa.time64("us"), pa.null(), pa.decimal256(40, 2)):
        with pytest.raises(EngineError, match="no Athena/Glue mapping"):
            types.to_sql(t, "c")
    wh = AthenaWarehouse(ConnInfo("athena", "aws"), env.aws(None))
    part = S3Partition(
        "b", "2024-03-01", "s3://b/t/", "s3://b/t/ds=2024-03-01/", "s3://b/m.json", (), 0, pa.schema([("id", pa.int64())]), "r"
    )
    with pytest.raises(ConnectionConfigError, match="extra.database"):
        wh.load("orders", Load("snapshot"), IVS[0], part)
    # a target that belongs to another lake path is not re-pointed
    p = env.pipeline(Load("snapshot"))
    env.put(ROWS)
    env.run(p, IVS[0])
    other = S3Partition(
        "b",
        "2024-03-01",
        "s3://b/elsewhere/",
        "s3://b/elsewhere/ds=2024-03-01/",
        "s3://b/m.json",
        (),
        0,
        pa.schema([("id", pa.int64())]),
        "r",
    )
    with pytest.raises(EngineError, match="refusing to re-point"):
        wh.load(f"{env.db}.orders", Load("snapshot"), IVS[0], other)
    wh.close()
