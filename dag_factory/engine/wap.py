"""Write-audit-publish as separate steps, so Airflow can run each as its own task:

    stage   (lake partition -> staging table, or the transform's SELECT inside the warehouse)
    check   (one data-quality check on the staging table; fails without touching the target)
    publish (staging table -> target, one short transaction by load mode)

Every step is idempotent for its interval: a re-run re-stages, re-checks, re-publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dag_factory.config.model import Pipeline, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine import located, runner
from dag_factory.engine.aws import AwsResolver
from dag_factory.engine.checks import CheckFailed, CheckResult, run_check
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.sources.base import base_select, template_values
from dag_factory.engine.templating import render_sql
from dag_factory.engine.warehouses.base import DbapiFactory, LoadResult, Warehouse
from dag_factory.errors import EngineError


def _transform_select(pipeline: Pipeline, wh: Warehouse, interval: Interval) -> tuple[str, list]:
    """The transform's SELECT, rendered with values bound, filtered to the interval when incremental."""
    src = pipeline.source
    if not isinstance(src, SqlSource):  # in_warehouse holds only for sql sources
        raise EngineError(f"pipeline {pipeline.name}: a {src.type} source cannot run inside the warehouse")
    interval = interval.widened(pipeline.load.lookback)  # [start - lookback, end), as extract reads it
    rendered: str | None = None
    params: list = []
    if src.query is not None:
        rendered, params = render_sql(src.query, template_values(interval), wh.placeholder, wh.escape_literal)
    sql = base_select(src, rendered)
    if pipeline.load.mode == "incremental":
        c, p = quote_ident(pipeline.load.cursor or ""), wh.placeholder
        sql = f"SELECT * FROM ({sql}) AS w WHERE {c} >= {p} AND {c} < {p}"
        params = [*params, interval.start_utc, interval.end_utc]
    return sql, params


def stage(
    pipeline: Pipeline,
    interval: Interval,
    lake_conn: ConnInfo | None,
    warehouse_conn: ConnInfo,
    progress: runner.Progress | None = None,
    *,
    aws: AwsResolver | None = None,
    dbapi: DbapiFactory | None = None,
) -> int:
    """Write the run's rows to its staging table; returns how many."""
    with located.step(pipeline, "stage", located.SOURCE_QUERY), runner.open_warehouse(warehouse_conn, aws, dbapi) as wh:
        if pipeline.in_warehouse:
            if not wh.capabilities.runs_queries:
                raise EngineError(f"pipeline {pipeline.name}: a {wh.capabilities.name} target runs no transforms")
            sql, params = _transform_select(pipeline, wh, interval)
            return wh.stage_query(pipeline.target.table, interval, sql, params)
        if lake_conn is None:
            raise EngineError(f"pipeline {pipeline.name}: staging from the lake needs a lake connection")
        return runner.stage_from_lake(pipeline, interval, lake_conn, wh, progress, aws=aws)


def check(
    pipeline: Pipeline,
    check_name: str,
    interval: Interval,
    warehouse_conn: ConnInfo,
    *,
    aws: AwsResolver | None = None,
    dbapi: DbapiFactory | None = None,
) -> CheckResult:
    """Run one named check on the staged rows; raises CheckFailed when it fails."""
    names = [c.name for c in pipeline.checks]
    if check_name not in names:
        raise EngineError(f"pipeline {pipeline.name} has no check {check_name!r} (has: {', '.join(names) or 'none'})")
    index = names.index(check_name)
    with located.step(pipeline, "check", located.check_sql(index)), runner.open_warehouse(warehouse_conn, aws, dbapi) as wh:
        if not wh.capabilities.runs_checks:
            raise EngineError(
                f"pipeline {pipeline.name}: checks need a staging table, which {wh.capabilities.name} targets do not have"
            )
        schema, name, stage_sql = wh.staging_table(pipeline.target.table, interval)
        if wh.columns(schema, name) is None:
            raise EngineError(f"nothing staged for {pipeline.target.table} and {interval.ds}: run the stage step first")
        result = run_check(wh, pipeline.checks[index], stage_sql, interval)
        if not result.passed:
            raise CheckFailed(result)
    return result


def publish(
    pipeline: Pipeline,
    interval: Interval,
    warehouse_conn: ConnInfo,
    lake_conn: ConnInfo | None = None,
    *,
    aws: AwsResolver | None = None,
    dbapi: DbapiFactory | None = None,
) -> LoadResult:
    with located.step(pipeline, "publish"), runner.open_warehouse(warehouse_conn, aws, dbapi) as wh:
        part = None
        if wh.capabilities.publishes_from_lake:
            if lake_conn is None:
                raise EngineError(
                    f"pipeline {pipeline.name}: a {wh.capabilities.name} target is published from the lake; "
                    "it needs a lake connection"
                )
            part = runner.lake_partition(pipeline, interval, lake_conn, aws)
        return wh.publish(pipeline.target.table, pipeline.load, interval, part)


@dataclass
class RunResult:
    extracted: int | None
    staged: int
    checks: list[CheckResult] = field(default_factory=list)
    loaded: LoadResult | None = None


def run_interval(
    pipeline: Pipeline,
    interval: Interval,
    source_conn: ConnInfo | None,
    lake_conn: ConnInfo | None,
    warehouse_conn: ConnInfo,
    progress: runner.Progress | None = None,
    *,
    aws: AwsResolver | None = None,
    dbapi: DbapiFactory | None = None,
) -> RunResult:
    """All steps of one interval in order (what a DAG run does), for `dag-factory run` and tests.
    A failing check raises CheckFailed before anything is published."""
    extracted = None
    if not pipeline.in_warehouse:
        assert source_conn is not None and lake_conn is not None
        extracted = runner.extract(pipeline, interval, source_conn, lake_conn, progress, aws=aws).rows
    result = RunResult(extracted, stage(pipeline, interval, lake_conn, warehouse_conn, aws=aws, dbapi=dbapi))
    for c in pipeline.checks:
        result.checks.append(check(pipeline, c.name, interval, warehouse_conn, aws=aws, dbapi=dbapi))
    result.loaded = publish(pipeline, interval, warehouse_conn, lake_conn, aws=aws, dbapi=dbapi)
    return result
