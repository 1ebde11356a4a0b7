"""The two steps of a pipeline run, free of Airflow: extract (source -> lake) and
load (lake -> warehouse). Each step is idempotent for its interval, so Airflow
(or `dag-factory run`) may retry or re-run it safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.lake import LocalLake, PartitionInfo
from dag_factory.engine.sources import open_source
from dag_factory.engine.warehouses.base import LoadResult, Warehouse
from dag_factory.errors import ConnectionConfigError

Progress = Callable[[int], None]

STAGING_PREFIX = "_staging"


@dataclass(frozen=True)
class ExtractResult:
    rows: int
    files: int
    location: str
    ds: str


def open_lake(conn: ConnInfo) -> LocalLake:
    """The lake behind `conn` (only local folders, kind `fs`, for now)."""
    if KINDS.get(conn.kind, conn.kind) == "fs":
        return LocalLake.from_conn(conn)
    raise ConnectionConfigError(f"connection {conn}: kind {conn.kind!r} cannot be a lake (supported: fs)")


def open_warehouse(conn: ConnInfo) -> Warehouse:
    """A connected warehouse for `conn`; use as a context manager."""
    kind = KINDS.get(conn.kind, conn.kind)
    if kind == "duckdb":
        from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(conn)
    if kind == "postgres":
        from dag_factory.engine.warehouses.postgres import PostgresWarehouse

        return PostgresWarehouse(conn)
    raise ConnectionConfigError(f"connection {conn}: kind {conn.kind!r} cannot be a warehouse (supported: duckdb, postgres)")


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
) -> ExtractResult:
    """Read the interval's selection from the source into the lake partition `interval.ds`."""
    lake = open_lake(lake_conn)
    with open_source(source_conn) as src:
        schema, batches = src.read(pipeline.source, pipeline.load, interval)
        info: PartitionInfo = lake.write_partition(lake_path(pipeline), interval.ds, schema, _counted(batches, progress))
    return ExtractResult(rows=info.rows, files=info.files, location=info.location, ds=interval.ds)


def load(
    pipeline: Pipeline,
    interval: Interval,
    lake_conn: ConnInfo,
    warehouse_conn: ConnInfo,
    progress: Progress | None = None,
) -> LoadResult:
    """Load the lake partition `interval.ds` into the pipeline's target table."""
    lake = open_lake(lake_conn)
    reader = lake.read_partition(lake_path(pipeline), interval.ds)
    if progress is not None:
        reader = pa.RecordBatchReader.from_batches(reader.schema, _counted(reader, progress))
    with open_warehouse(warehouse_conn) as wh:
        return wh.load(pipeline.target.table, pipeline.load, interval, reader)
