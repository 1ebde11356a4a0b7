"""The operators a generated DAG runs: thin shells that hand a Pipeline, its data
interval and resolved connections to the engine (extract, then write-audit-publish)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from dag_factory.airflow.error_text import is_located, located_text
from dag_factory.config.describe import staged_from
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval, latest_complete_interval


def interval_from_context(context: Any, pipeline: Pipeline) -> Interval:
    """The run's data interval; runs without a logical date (manual trigger with
    `logical_date: null`, asset-triggered) load the latest complete interval (for
    manual and `after:` pipelines: the previous calendar day)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return Interval(start, end, pipeline.timezone)
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return latest_complete_interval(pipeline.schedule, pipeline.timezone, run_after)


class _PipelineOperator(BaseOperator):
    def __init__(self, *, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def execute(self, context: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """The step's XCom: its summary, or the planned parts of a parallel extract."""
        try:
            return self.run_step(context)
        except Exception as exc:
            # broad, and always re-raised: any error that left an engine step (ours, a driver's)
            # is located; the log line says where (pipeline, file:line, step) before Airflow's
            # traceback, whose rendering of a driver error would not show the location note
            if is_located(exc):
                self.log.error("dag_factory: %s", located_text(exc))
            raise

    def run_step(self, context: Any) -> dict[str, Any] | list[dict[str, Any]]:
        raise NotImplementedError

    def _progress(self, what: str):
        state = {"next": 0}

        def report(rows: int) -> None:
            if rows >= state["next"]:
                self.log.info("%s: %s rows so far", what, f"{rows:,}")
                state["next"] = rows + max(self.pipeline.source.batch_size * 10, 1)

        return report

    def _lake(self):
        from dag_factory.airflow.connections import resolve, staging_conn

        if self.pipeline.in_warehouse:
            return None
        return resolve(self.pipeline.lake.conn_id) if self.pipeline.lake else staging_conn()


class ExtractOperator(_PipelineOperator):
    """Source rows of the interval -> Parquet partition in the lake (or local staging)."""

    ui_color = "#d6eaf8"

    def run_step(self, context: Any) -> dict[str, Any]:
        from dag_factory.airflow.connections import aws_context, resolve
        from dag_factory.engine import runner

        p = self.pipeline
        interval = interval_from_context(context, p)
        self.log.info("pipeline %s (%s): extracting %s from %s", p.name, p.load.mode, interval, p.source.conn_id)
        result = runner.extract(
            p, interval, resolve(p.source.conn_id), self._lake(), progress=self._progress("extract"), aws=aws_context
        )
        self.log.info("extracted %s rows into %s", f"{result.rows:,}", result.location)
        return {"rows": result.rows, "ds": interval.ds}


class PlanPartsOperator(_PipelineOperator):
    """Parallel extract, step 1: the parts' ranges, fixed once per run (each mapped part
    reads its range from this XCom, so a retried part reads exactly what it had)."""

    ui_color = "#d6eaf8"

    def run_step(self, context: Any) -> list[dict[str, Any]]:
        from dag_factory.airflow.connections import aws_context, resolve
        from dag_factory.engine import runner

        p = self.pipeline
        interval = interval_from_context(context, p)
        plan = runner.plan_parts(p, interval, resolve(p.source.conn_id), self._lake(), aws=aws_context)
        for part in plan:
            self.log.info(
                "%s: %s >= %s and < %s%s", part.label(), part.column, part.lo, part.hi, " (or NULL)" if part.nulls else ""
            )
        return [part.to_json() for part in plan]


class ExtractPartOperator(_PipelineOperator):
    """Parallel extract, step 2 (mapped, one instance per part): one range into its own part files."""

    ui_color = "#d6eaf8"

    def __init__(self, *, part: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = part

    def run_step(self, context: Any) -> dict[str, Any]:
        from dag_factory.airflow.connections import aws_context, resolve
        from dag_factory.engine import runner
        from dag_factory.engine.parallel import PartRange

        p = self.pipeline
        interval = interval_from_context(context, p)
        part = PartRange.from_json(self.part)
        self.log.info("pipeline %s: extracting %s of %s from %s", p.name, part.label(), interval, p.source.conn_id)
        info = runner.extract_part(
            p, interval, part, resolve(p.source.conn_id), self._lake(), self._progress(part.label()), aws=aws_context
        )
        self.log.info("%s: %s rows into %s", part.label(), f"{info.rows:,}", info.location)
        return {"rows": info.rows, "part": part.index, "ds": interval.ds}


class CommitPartsOperator(_PipelineOperator):
    """Parallel extract, step 3: every part's files become the interval's partition, atomically."""

    ui_color = "#d6eaf8"

    def run_step(self, context: Any) -> dict[str, Any]:
        from dag_factory.airflow.connections import aws_context
        from dag_factory.engine import runner

        p = self.pipeline
        interval = interval_from_context(context, p)
        info = runner.commit_parts(p, interval, self._lake(), aws=aws_context)
        self.log.info("committed %s rows in %s files into %s", f"{info.rows:,}", info.files, info.location)
        return {"rows": info.rows, "ds": interval.ds}


class StageOperator(_PipelineOperator):
    """Write: the run's rows into a staging table beside the target (not yet visible)."""

    ui_color = "#fdebd0"

    def run_step(self, context: Any) -> dict[str, Any]:
        from dag_factory.airflow.connections import aws_context, redshift_dbapi, resolve
        from dag_factory.engine import wap

        p = self.pipeline
        interval = interval_from_context(context, p)
        self.log.info("pipeline %s: staging %s %s for %s", p.name, interval, staged_from(p), p.target.table)
        rows = wap.stage(
            p,
            interval,
            self._lake(),
            resolve(p.target.conn_id),
            progress=self._progress("stage"),
            aws=aws_context,
            dbapi=redshift_dbapi,
        )
        self.log.info("staged %s rows", f"{rows:,}")
        return {"staged": rows, "ds": interval.ds}


class CheckOperator(_PipelineOperator):
    """Audit: one data-quality check on the staged rows. A failure is final (no retries):
    the data will not change by trying again, and the target stays untouched."""

    ui_color = "#fcf3cf"

    def __init__(self, *, check_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_name = check_name

    def run_step(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from dag_factory.airflow.connections import aws_context, redshift_dbapi, resolve
        from dag_factory.engine import wap
        from dag_factory.engine.checks import CheckFailed

        p = self.pipeline
        interval = interval_from_context(context, p)
        try:
            result = wap.check(p, self.check_name, interval, resolve(p.target.conn_id), aws=aws_context, dbapi=redshift_dbapi)
        except CheckFailed as failed:
            raise AirflowFailException(f"{failed}\nThe target {p.target.table} was not changed.") from None
        self.log.info(result.message())
        return {"check": self.check_name, "passed": True, "detail": result.detail}


class PublishOperator(_PipelineOperator):
    """Publish: staged rows -> target in one transaction, by load mode."""

    ui_color = "#d5f5e3"

    def run_step(self, context: Any) -> dict[str, Any]:
        from dag_factory.airflow.connections import aws_context, redshift_dbapi, resolve
        from dag_factory.engine import wap

        p = self.pipeline
        interval = interval_from_context(context, p)
        result = wap.publish(p, interval, resolve(p.target.conn_id), self._lake(), aws=aws_context, dbapi=redshift_dbapi)
        self.log.info(
            "published %s (%s): %s rows inserted, %s replaced/deleted",
            p.target.table,
            p.load.mode,
            f"{result.inserted:,}",
            f"{result.deleted:,}",
        )
        if result.changes:
            self.log.info("schema changes in %s: %s", p.target.table, result.summary)
        return {"inserted": result.inserted, "deleted": result.deleted, "ds": interval.ds, "schema_changes": list(result.changes)}


class ConfigErrorOperator(BaseOperator):
    """The one task of a placeholder DAG: fails with the config error, so the UI shows it."""

    ui_color = "#f5b7b1"

    def __init__(self, *, error_text: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_text = error_text

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"pipeline config is invalid; fix the file and the DAG comes back:\n{self.error_text}")
