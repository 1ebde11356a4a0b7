"""The S3 lake against moto in server mode (real HTTP on 127.0.0.1): every load mode writes and
replaces the right partitions, and a writer killed (SIGKILL) at any step leaves the previous
partition readable and complete."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake_s3 import S3Lake, s3_bucket_prefix
from dag_factory.engine.runner import extract, load, open_lake
from dag_factory.errors import ConnectionConfigError, EngineError
from tests.support.moto_server import MotoServer, moto_aws  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
IVS = [Interval(DAY1 + timedelta(days=i), DAY1 + timedelta(days=i + 1)) for i in range(3)]
SCHEMA = pa.schema([("id", pa.int64())])


def _resolver(m: MotoServer):
    return lambda conn: AwsContext(m.shared_session(), m.endpoint_url)


def _lake_conn(bucket: str, prefix: str = "raw") -> ConnInfo:
    return ConnInfo("lake", "aws", extra={"bucket": bucket, "prefix": prefix})


def _keys(m: MotoServer, bucket: str, prefix: str = "") -> dict[str, str]:
    """key -> ETag of every object under prefix."""
    out: dict[str, str] = {}
    for page in m.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", ())})
    return out


def _batches(n: int, start: int = 0, per: int = 10):
    for i in range(start, start + n, per):
        yield pa.record_batch([pa.array(range(i, min(i + per, start + n)), pa.int64())], names=["id"])


class Source:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "src.sqlite"
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, updated_at TIMESTAMP)")
        self.conn = ConnInfo("src", "sqlite", host=str(self.path))

    def put(self, rows: list[tuple[int, str, datetime]]) -> None:
        with sqlite3.connect(self.path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?)", [(i, n, t.strftime("%Y-%m-%d %H:%M:%S")) for i, n, t in rows]
            )


def _at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour)


@pytest.mark.parametrize("mode", ["incremental", "snapshot", "full_refresh"])
def test_every_mode_writes_and_replaces_exactly_its_partition(moto_aws, tmp_path, mode):  # noqa: F811
    m = moto_aws
    bucket = m.new_bucket()
    src = Source(tmp_path)
    src.put([(1, "a", _at(1, 1)), (2, "b", _at(1, 5)), (3, "c", _at(2, 2)), (4, "d", _at(3, 7))])
    load_cfg = Load("incremental", cursor="updated_at") if mode == "incremental" else Load(mode)
    p = Pipeline(
        "orders", SqlSource("src", table="orders"), load_cfg, Target("wh", "analytics.orders"), lake=Lake("lake", "shop/orders")
    )
    lake_conn, aws = _lake_conn(bucket), _resolver(m)
    lake = open_lake(lake_conn, aws)
    assert isinstance(lake, S3Lake)

    def ids(ds: str) -> list[int]:
        return sorted(lake.read_partition("shop/orders", ds).read_all().column("id").to_pylist())

    for iv in IVS:
        res = extract(p, iv, src.conn, lake_conn, aws=aws)
        assert res.location == f"s3://{bucket}/raw/shop/orders/ds={iv.ds}/"
    expected = {"incremental": [[1, 2], [3], [4]]}.get(mode, [[1, 2, 3, 4]] * 3)
    assert [ids(iv.ds) for iv in IVS] == expected
    before = _keys(m, bucket)
    # layout: data files under ds=, one manifest per partition, nothing else (no temp leftovers)
    for key in before:
        assert key.startswith("raw/shop/orders/"), key
        rel = key[len("raw/shop/orders/") :]
        assert (rel.startswith("ds=") and rel.split("/")[1].startswith("part-") and rel.endswith(".parquet")) or (
            rel.startswith("_manifests/ds=") and rel.endswith(".json")
        ), key

    # the source changes; day 2 is re-run: only ds=2024-03-02 changes, completely
    src.put([(3, "c2", _at(2, 9)), (5, "e", _at(2, 10))])
    extract(p, IVS[1], src.conn, lake_conn, aws=aws)
    after = _keys(m, bucket)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed and all("ds=2024-03-02" in k for k in changed), changed
    assert ids("2024-03-01") == expected[0] and ids("2024-03-03") == expected[2]
    assert ids("2024-03-02") == ([3, 5] if mode == "incremental" else [1, 2, 3, 4, 5])
    assert not [k for k in after if "/_tmp/" in k]

    # the same pipeline loads from the S3 lake into the local DuckDB warehouse (engine code unchanged)
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"))
    for iv in IVS:
        load(p, iv, lake_conn, wh, aws=aws)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as db:
        got = sorted(r[0] for r in db.execute("SELECT id FROM analytics.orders").fetchall())
    # full_refresh: the last load (day 3's partition, extracted before the change) is the table
    assert got == {"incremental": [1, 2, 3, 4, 5], "snapshot": sorted([1, 2, 3, 4] * 2 + [1, 2, 3, 4, 5])}.get(mode, [1, 2, 3, 4])


def test_manifest_is_a_redshift_copy_manifest_and_empty_extracts_are_partitions(moto_aws):  # noqa: F811
    import json

    m = moto_aws
    bucket = m.new_bucket()
    lake = S3Lake(bucket, "", AwsContext(m.shared_session(), m.endpoint_url), rows_per_file=25)
    info = lake.write_partition("t", "2024-03-01", SCHEMA, _batches(60))
    assert (info.rows, info.files) == (60, 3)
    manifest = json.loads(m.client("s3").get_object(Bucket=bucket, Key="t/_manifests/ds=2024-03-01.json")["Body"].read())
    sizes = {k: m.client("s3").head_object(Bucket=bucket, Key=k)["ContentLength"] for k in _keys(m, bucket, "t/ds=")}
    assert [e["url"] for e in manifest["entries"]] == [f"s3://{bucket}/{k}" for k in sorted(sizes)]
    for e in manifest["entries"]:
        assert e["mandatory"] is True
        assert e["meta"]["content_length"] == sizes[e["url"][len(f"s3://{bucket}/") :]]
    assert [e["meta"]["record_count"] for e in manifest["entries"]] == [25, 25, 10]
    part = lake.partition("t", "2024-03-01")
    assert part.schema == SCHEMA and part.rows == 60 and part.manifest_url == f"s3://{bucket}/t/_manifests/ds=2024-03-01.json"

    empty = lake.write_partition("t", "2024-03-02", SCHEMA, iter(()))
    assert (empty.rows, empty.files) == (0, 1)
    assert lake.has_partition("t", "2024-03-02") and not lake.has_partition("t", "2024-03-03")
    table = lake.read_partition("t", "2024-03-02").read_all()
    assert table.num_rows == 0 and table.schema == SCHEMA
    with pytest.raises(EngineError, match=r"t/ds=2024-03-03 not found"):
        lake.read_partition("t", "2024-03-03")


def test_write_failing_mid_stream_keeps_previous_partition(moto_aws):  # noqa: F811
    m = moto_aws
    bucket = m.new_bucket()
    lake = S3Lake(bucket, "p", AwsContext(m.shared_session(), m.endpoint_url), rows_per_file=10)
    lake.write_partition("t", "2024-03-01", SCHEMA, _batches(30))
    published = _keys(m, bucket)

    def failing():
        yield from _batches(20, start=100)
        raise RuntimeError("source died mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        lake.write_partition("t", "2024-03-01", SCHEMA, failing())
    assert _keys(m, bucket) == published  # temp files removed, partition untouched
    assert lake.read_partition("t", "2024-03-01").read_all().column("id").to_pylist() == list(range(30))


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import pyarrow as pa
    from dag_factory.engine.aws import AwsContext
    from dag_factory.engine.lake_s3 import S3Lake
    from tests.support.moto_server import MotoServer

    endpoint, bucket, phase = sys.argv[1:4]
    lake = S3Lake(bucket, "raw", AwsContext(MotoServer(endpoint).session(), endpoint), rows_per_file=10)
    # the kill comes from S3's side of the process: a botocore hook on the request the lake is
    # about to send (the nth CopyObject, the manifest's PutObject, the cleanup's DeleteObjects)
    op, nth, key_part = {"before_copy": ("CopyObject", 1, ""), "mid_copy": ("CopyObject", 2, ""),
                         "before_manifest": ("PutObject", 1, "/_manifests/"),
                         "after_manifest": ("DeleteObjects", 1, "")}[phase]
    seen = {"n": 0}

    def kill(params, **kwargs):
        if key_part in params.get("Key", ""):
            seen["n"] += 1
            if seen["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    lake.s3.meta.events.register(f"before-parameter-build.s3.{op}", kill)
    schema = pa.schema([("id", pa.int64())])
    batches = [pa.record_batch([pa.array(range(i, i + 10), pa.int64())], names=["id"]) for i in range(100, 130, 10)]
    lake.write_partition("t", "2024-03-01", schema, iter(batches))
    sys.exit(3)  # not reached: killed
    """
)


@pytest.mark.parametrize("phase", ["before_copy", "mid_copy", "before_manifest", "after_manifest"])
def test_writer_killed_at_any_step_leaves_a_complete_partition(moto_aws, phase):  # noqa: F811
    """SIGKILL (no cleanup code runs) between the steps of a write. Before the manifest PUT the
    previous partition is what every manifest reader sees; after it, the new one. What a
    prefix reader (Athena) sees is asserted too; the next write of the partition cleans up."""
    m = moto_aws
    bucket = m.new_bucket()
    lake = S3Lake(bucket, "raw", AwsContext(m.shared_session(), m.endpoint_url), rows_per_file=10)
    lake.write_partition("t", "2024-03-01", SCHEMA, _batches(30))
    old_files = set(_keys(m, bucket, "raw/t/ds=2024-03-01/"))
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, m.endpoint_url, bucket, phase], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    ids = lake.read_partition("t", "2024-03-01").read_all().column("id").to_pylist()
    prefix_view = set(_keys(m, bucket, "raw/t/ds=2024-03-01/"))
    temp = _keys(m, bucket, "raw/t/_tmp/")
    if phase == "after_manifest":
        assert ids == list(range(100, 130))  # published: the new partition, complete
        assert old_files < prefix_view and len(prefix_view) == 6  # prefix reader: old files not yet deleted
    else:
        assert ids == list(range(30))  # the previous partition, complete
        assert len(temp) == 3  # the new files wait under _tmp/
        extra = prefix_view - old_files
        assert old_files <= prefix_view and len(extra) == {"before_copy": 0, "mid_copy": 1, "before_manifest": 3}[phase]

    # the retry (next write of the partition) removes every leftover and publishes cleanly
    lake.write_partition("t", "2024-03-01", SCHEMA, _batches(10, start=500))
    assert lake.read_partition("t", "2024-03-01").read_all().column("id").to_pylist() == list(range(500, 510))
    assert len(_keys(m, bucket, "raw/t/ds=2024-03-01/")) == 1
    assert not _keys(m, bucket, "raw/t/_tmp/")


def test_connection_fields(moto_aws):  # noqa: F811
    assert s3_bucket_prefix(ConnInfo("l", "aws", extra={"bucket": "acme-lake", "prefix": "/raw/v1/"})) == ("acme-lake", "raw/v1")
    assert s3_bucket_prefix(ConnInfo("l", "aws", extra={"path": "s3://acme-lake/raw"})) == ("acme-lake", "raw")
    assert s3_bucket_prefix(ConnInfo("l", "aws", extra={"bucket": "acme-lake"})) == ("acme-lake", "")
    for bad in ({}, {"bucket": "Bad_Bucket"}, {"bucket": "ok-bucket", "prefix": "a/../b"}, {"path": "/local/folder"}):
        with pytest.raises(ConnectionConfigError):
            s3_bucket_prefix(ConnInfo("l", "aws", extra=bad))
    # endpoint_url in the connection extra is honoured when the resolver gives none
    lake = open_lake(
        ConnInfo("l", "aws", extra={"bucket": "acme-lake", "endpoint_url": moto_aws.endpoint_url}),
        lambda c: AwsContext(moto_aws.shared_session()),
    )
    assert lake.aws.endpoint_url == moto_aws.endpoint_url
    assert "testing" not in repr(lake.aws) and "session" not in repr(lake.aws)


def test_types_round_trip_unchanged(moto_aws):  # noqa: F811
    from datetime import date
    from decimal import Decimal

    m = moto_aws
    lake = S3Lake(m.new_bucket(), "", AwsContext(m.shared_session(), m.endpoint_url))
    table = pa.table(
        {
            "d": pa.array([Decimal("12345678901234.56"), None], pa.decimal128(16, 2)),
            "ts": pa.array([datetime(2024, 3, 1, 12, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
            "naive": pa.array([datetime(2024, 3, 1, 12), None], pa.timestamp("us")),
            "day": pa.array([date(2024, 3, 1), None], pa.date32()),
            "s": pa.array(["", None], pa.string()),
            "b": pa.array([b"\x00\xff", None], pa.binary()),
            "u": pa.array([2**63, None], pa.uint64()),
        }
    )
    lake.write_partition("t", "2024-03-01", table.schema, iter(table.to_batches()))
    back = lake.read_partition("t", "2024-03-01").read_all()
    assert back.schema == table.schema and back.equals(table)
