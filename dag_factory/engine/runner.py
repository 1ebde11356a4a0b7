"""The two steps of a pipeline run, free of Airflow: extract (source -> lake) and
load (lake -> warehouse). Each step is idempotent for its interval, so Airflow
(or `dag-factory run`) may retry or re-run it safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsResolver, aws_for
from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.lake import LocalLake, PartitionInfo
from dag_factory.engine.sources import open_source
from dag_factory.engine.warehouses.base import LoadResult, Warehouse
from dag_factory.errors import ConnectionConfigError

if TYPE_CHECKING:
    from dag_factory.engine.lake_s3 import S3Lake
    from dag_factory.engine.warehouses.athena import AthenaWarehouse

Progress = Callable[[int], None]
DbapiFactory = Callable[[ConnInfo], Any]  # ConnInfo -> an open DB-API connection

STAGING_PREFIX = "_staging"


@dataclass(frozen=True)
class ExtractResult:
    rows: int
    files: int
    location: str
    ds: str


def open_lake(conn: ConnInfo, aws: AwsResolver | None = None) -> LocalLake | S3Lake:
    """The lake behind `conn`: a local folder (kind `fs`) or an S3 bucket + prefix (kind `aws`).

    `aws` turns an AWS connection into a boto3 session (the Airflow layer passes the
    amazon provider's; without it boto3's default credential chain is used)."""
    kind = KINDS.get(conn.kind, conn.kind)
    if kind == "fs":
        return LocalLake.from_conn(conn)
    if kind == "aws":
        from dag_factory.engine.lake_s3 import S3Lake

        return S3Lake.from_conn(conn, aws_for(conn, aws))
    raise ConnectionConfigError(f"connection {conn}: kind {conn.kind!r} cannot be a lake (supported: fs, aws)")


def open_warehouse(
    conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None
) -> Warehouse | AthenaWarehouse:
    """A connected warehouse for `conn`; use as a context manager.

    `dbapi` (optional) opens the DB-API connection for a Redshift warehouse (the Airflow
    layer may pass RedshiftSQLHook's); without it the engine connects with redshift_connector."""
    kind = KINDS.get(conn.kind, conn.kind)
    if kind == "duckdb":
        from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(conn)
    if kind == "postgres":
        from dag_factory.engine.warehouses.postgres import PostgresWarehouse

        return PostgresWarehouse(conn)
    if kind == "redshift":
        from dag_factory.engine.warehouses.redshift import RedshiftWarehouse

        return RedshiftWarehouse(conn, dbapi=dbapi(conn) if dbapi else None)
    if kind in ("aws", "athena"):
        from dag_factory.engine.warehouses.athena import AthenaWarehouse

        return AthenaWarehouse(conn, aws_for(conn, aws))
    raise ConnectionConfigError(
        f"connection {conn}: kind {conn.kind!r} cannot be a warehouse (supported: duckdb, postgres, redshift, aws (Athena))"
    )


def lake_path(pipeline: Pipeline) -> str:
    """Where the pipeline's partitions live: its lake path, or a private staging area."""
    return pipeline.lake.path if pipeline.lake else f"{STAGING_PREFIX}/{pipeline.name}"


def _counted(batches: Iterable[pa.RecordBatch], progress: Progress | None) -> Iterator[pa.RecordBatch]:
    rows = 0
    for b in batches:
        rows += b.num_rows
        yield b
        if progress is not None:
            progress(rows)


def extract(
    pipeline: Pipeline,
    interval: Interval,
    source_conn: ConnInfo,
    lake_conn: ConnInfo,
    progress: Progress | None = None,
    *,
    aws: AwsResolver | None = None,
) -> ExtractResult:
    """Read the interval's selection from the source into the lake partition `interval.partition`."""
    lake = open_lake(lake_conn, aws)
    with open_source(source_conn, pipeline.source.type, aws) as src:
        schema, batches = src.read(pipeline.source, pipeline.load, interval)
        info: PartitionInfo = lake.write_partition(lake_path(pipeline), interval.partition, schema, _counted(batches, progress))
    return ExtractResult(rows=info.rows, files=info.files, location=info.location, ds=interval.ds)


def load(
    pipeline: Pipeline,
    interval: Interval,
    lake_conn: ConnInfo,
    warehouse_conn: ConnInfo,
    progress: Progress | None = None,
    *,
    aws: AwsResolver | None = None,
    dbapi: DbapiFactory | None = None,
) -> LoadResult:
    """Load the lake partition `interval.partition` into the pipeline's target table."""
    lake = open_lake(lake_conn, aws)
    if KINDS.get(warehouse_conn.kind, warehouse_conn.kind) in ("redshift", "aws", "athena"):
        # Redshift COPYs and Athena registers the S3 partition itself: no rows pass through here
        from dag_factory.engine.lake_s3 import S3Lake

        if not isinstance(lake, S3Lake):
            raise ConnectionConfigError(
                f"pipeline {pipeline.name}: target connection {warehouse_conn} loads from an S3 lake; "
                f"set lake.conn_id to an AWS connection (got {lake_conn})"
            )
        part = lake.partition(lake_path(pipeline), interval.partition)
        with open_warehouse(warehouse_conn, aws, dbapi) as wh:
            return wh.load_partition(pipeline.target.table, pipeline.load, interval, part)  # type: ignore[attr-defined]
    reader = lake.read_partition(lake_path(pipeline), interval.partition)
    if progress is not None:
        reader = pa.RecordBatchReader.from_batches(reader.schema, _counted(reader, progress))
    with open_warehouse(warehouse_conn) as wh:
        return wh.load(pipeline.target.table, pipeline.load, interval, reader)


def stage_from_lake(
    pipeline: Pipeline,
    interval: Interval,
    lake_conn: ConnInfo,
    wh: Warehouse,
    progress: Progress | None = None,
    *,
    aws: AwsResolver | None = None,
) -> int:
    """The write step of write-audit-publish from the lake: Redshift COPYs the S3 partition
    into its staging table (no rows pass through here); other warehouses stream it in."""
    lake = open_lake(lake_conn, aws)
    if hasattr(wh, "stage_partition"):
        from dag_factory.engine.lake_s3 import S3Lake

        if not isinstance(lake, S3Lake):
            raise ConnectionConfigError(
                f"pipeline {pipeline.name}: the target stages from an S3 lake; set lake.conn_id to an AWS connection (got {lake_conn})"
            )
        part = lake.partition(lake_path(pipeline), interval.partition)
        return wh.stage_partition(pipeline.target.table, pipeline.load, interval, part)
    reader = lake.read_partition(lake_path(pipeline), interval.partition)
    if progress is not None:
        reader = pa.RecordBatchReader.from_batches(reader.schema, _counted(reader, progress))
    return wh.stage_reader(pipeline.target.table, pipeline.load, interval, reader)
