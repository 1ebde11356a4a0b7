"""The two steps of a pipeline run, free of Airflow: extract (source -> lake) and
load (lake -> warehouse). Each step is idempotent for its interval, so Airflow
(or `dag-factory run`) may retry or re-run it safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval
from dag_factory.engine import located
from dag_factory.engine.aws import AwsResolver, aws_for
from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.lake import Lake, LocalLake, PartitionInfo, S3Partition
from dag_factory.engine.normalize import normalize
from dag_factory.engine.parallel import PartRange, interval_ranges, parallel_of, ranges, splits_interval, window_of
from dag_factory.engine.sources import open_source
from dag_factory.engine.warehouses.base import DbapiFactory, LoadResult, StageInput, Warehouse
from dag_factory.engine.warehouses.capabilities import Capabilities, capabilities_for
from dag_factory.errors import ConnectionConfigError

Progress = Callable[[int], None]

STAGING_PREFIX = "_staging"
PARTS_IN_PROCESS = 4  # `dag-factory run`: parts read at once (threads: the readers and Parquet release the GIL)


@dataclass(frozen=True)
class ExtractResult:
    rows: int
    files: int
    location: str
    ds: str


def open_lake(conn: ConnInfo, aws: AwsResolver | None = None) -> Lake:
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


def warehouse_capabilities(conn: ConnInfo) -> Capabilities:
    """What the warehouse behind `conn` can do, known before connecting."""
    try:
        return capabilities_for(conn.kind)
    except ConnectionConfigError as e:
        raise ConnectionConfigError(f"connection {conn}: {e}") from None


def open_warehouse(conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> Warehouse:
    """A connected warehouse for `conn`; use as a context manager.

    `dbapi` (optional) opens the DB-API connection for a warehouse that takes one (Redshift:
    the Airflow layer may pass RedshiftSQLHook's); `aws` the boto3 session for AWS ones."""
    return warehouse_capabilities(conn).warehouse_class().open(conn, aws, dbapi)


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
    """Read the interval's selection from the source into the lake partition `interval.partition`.

    A `source.parallel` pipeline is read in its parts here, in a small thread pool
    (`dag-factory run`); Airflow runs plan_parts, extract_part and commit_parts as tasks."""
    if parallel_of(pipeline) is not None:
        plan = plan_parts(pipeline, interval, source_conn, lake_conn, aws=aws)
        workers = min(len(plan), PARTS_IN_PROCESS)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dagf-part") as pool:
            done = list(pool.map(lambda part: extract_part(pipeline, interval, part, source_conn, lake_conn, aws=aws), plan))
        committed = commit_parts(pipeline, interval, lake_conn, aws=aws)
        if progress is not None:
            progress(sum(d.rows for d in done))
        return ExtractResult(rows=committed.rows, files=committed.files, location=committed.location, ds=interval.ds)
    with located.step(pipeline, "extract", located.SOURCE_QUERY):
        lake = open_lake(lake_conn, aws)
        with open_source(source_conn, pipeline.source.type, aws) as reader:
            window = interval.widened(pipeline.load.lookback)  # [start - lookback, end): late rows too
            raw = reader.read(pipeline.source, pipeline.load, window)
            schema, batches = normalize(raw, pipeline.source, pipeline.load, window)
            rows = _counted(batches, progress)
            info: PartitionInfo = lake.write_partition(lake_path(pipeline), interval.partition, schema, rows)
    # Arrow's allocator keeps freed batch memory for reuse; hand it back, so a load that follows
    # in this process (`dag-factory run`) does not stack on it (SF1 lineitem run: 660 -> 553 MB)
    pa.default_memory_pool().release_unused()
    return ExtractResult(rows=info.rows, files=info.files, location=info.location, ds=interval.ds)


def plan_parts(
    pipeline: Pipeline, interval: Interval, source_conn: ConnInfo, lake_conn: ConnInfo, *, aws: AwsResolver | None = None
) -> list[PartRange]:
    """The parts of a parallel extract (bounds fixed once per run) and a clean slate for them."""
    spec = parallel_of(pipeline)
    if spec is None:
        raise ConnectionConfigError(f"pipeline {pipeline.name}: source.parallel is not set")
    source, column, parts = spec
    window = window_of(pipeline, interval)
    with located.step(pipeline, "extract", located.SOURCE_QUERY):
        if splits_interval(pipeline.load, column):
            plan = interval_ranges(column, parts, window)
        else:
            with open_source(source_conn, source.type, aws) as reader:
                lo, hi = reader.column_range(source, pipeline.load, window, column)  # type: ignore[attr-defined]  # sql readers only (parallel_of)
            plan = ranges(column, parts, lo, hi)
        open_lake(lake_conn, aws).clear_parts(lake_path(pipeline), interval.partition)
    return plan


def extract_part(
    pipeline: Pipeline,
    interval: Interval,
    part: PartRange,
    source_conn: ConnInfo,
    lake_conn: ConnInfo,
    progress: Progress | None = None,
    *,
    aws: AwsResolver | None = None,
) -> PartitionInfo:
    """One range of a parallel extract into its own part files (invisible until commit_parts)."""
    with located.step(pipeline, "extract", located.SOURCE_QUERY):
        lake = open_lake(lake_conn, aws)
        with open_source(source_conn, pipeline.source.type, aws) as reader:
            window = window_of(pipeline, interval)
            raw = reader.read(pipeline.source, pipeline.load, window, part=part)  # type: ignore[call-arg]  # sql readers only (parallel_of)
            schema, batches = normalize(raw, pipeline.source, pipeline.load, window)
            return lake.write_part(lake_path(pipeline), interval.partition, part.index, schema, _counted(batches, progress))


def commit_parts(pipeline: Pipeline, interval: Interval, lake_conn: ConnInfo, *, aws: AwsResolver | None = None) -> PartitionInfo:
    """Publish all parts of a parallel extract as the interval's partition, atomically."""
    spec = parallel_of(pipeline)
    if spec is None:
        raise ConnectionConfigError(f"pipeline {pipeline.name}: source.parallel is not set")
    with located.step(pipeline, "extract"):
        return open_lake(lake_conn, aws).commit_parts(lake_path(pipeline), interval.partition, spec[2])


def _lake_input(
    pipeline: Pipeline, interval: Interval, lake: Lake, lake_conn: ConnInfo, caps: Capabilities, progress: Progress | None
) -> StageInput:
    """The partition in the form the warehouse takes it (capabilities.loads_from) and the lake serves."""
    way = next((w for w in caps.loads_from if w in lake.serves), None)
    if way is None:
        raise ConnectionConfigError(
            f"pipeline {pipeline.name}: a {caps.name} target loads from an S3 lake; "
            f"set lake.conn_id to an AWS connection (got {lake_conn})"
        )
    if way == "s3_partition":  # the warehouse reads the files itself: no rows pass through here
        return lake.partition(lake_path(pipeline), interval.partition)
    if way == "local_files":  # likewise, from local Parquet files (DuckDB)
        part = lake.local_partition(lake_path(pipeline), interval.partition)
        if progress is not None:
            progress(part.rows)
        return part
    reader = lake.read_partition(lake_path(pipeline), interval.partition)
    if progress is not None:
        reader = pa.RecordBatchReader.from_batches(reader.schema, _counted(reader, progress))
    return reader


def lake_partition(pipeline: Pipeline, interval: Interval, lake_conn: ConnInfo, aws: AwsResolver | None = None) -> S3Partition:
    """The published partition, for a warehouse that publishes straight from the lake (Athena)."""
    lake = open_lake(lake_conn, aws)
    if "s3_partition" not in lake.serves:
        raise ConnectionConfigError(
            f"pipeline {pipeline.name}: the target publishes from an S3 lake; set lake.conn_id to an AWS connection (got {lake_conn})"
        )
    return lake.partition(lake_path(pipeline), interval.partition)


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
    """Load the lake partition `interval.partition` into the pipeline's target table (stage + publish)."""
    with located.step(pipeline, "load"):
        caps = warehouse_capabilities(warehouse_conn)
        data = _lake_input(pipeline, interval, open_lake(lake_conn, aws), lake_conn, caps, progress)
        with open_warehouse(warehouse_conn, aws, dbapi) as wh:
            return wh.load(pipeline.target.table, pipeline.load, interval, data)


def stage_from_lake(
    pipeline: Pipeline,
    interval: Interval,
    lake_conn: ConnInfo,
    wh: Warehouse,
    progress: Progress | None = None,
    *,
    aws: AwsResolver | None = None,
) -> int:
    """The write step of write-audit-publish from the lake, in the form the warehouse takes it."""
    data = _lake_input(pipeline, interval, open_lake(lake_conn, aws), lake_conn, wh.capabilities, progress)
    return wh.stage(pipeline.target.table, pipeline.load, interval, data)
