"""Pipeline -> DAG, and config error -> placeholder DAG.

DAGs are built with auto_register=False and validated before the generator puts
them in the module's globals, so a half-built DAG never reaches Airflow.
"""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import DAG, Asset, BaseOperator, CronDataIntervalTimetable, TaskGroup
from airflow.sdk.definitions.asset import BaseAsset

# the same classes airflow.sdk exports; its type stub (3.3.2) leaves them out
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from dag_factory.airflow.alerts import PipelineNotifier, deadline_missed
from dag_factory.airflow.docs import doc_md, fenced
from dag_factory.airflow.operators import (
    CheckOperator,
    CommitPartsOperator,
    ConfigErrorOperator,
    ExtractOperator,
    ExtractPartOperator,
    PlanPartsOperator,
    PublishOperator,
    StageOperator,
)
from dag_factory.airflow.pools import publish_pool
from dag_factory.config.describe import dag_tags, lake_label, mode_line, parallel_text, staged_from
from dag_factory.config.loader import FileError
from dag_factory.config.model import FileSource, Pipeline
from dag_factory.config.schedules import cron_of

CONFIG_ERROR_TAG = "config-error"


def asset_for(p: Pipeline) -> Asset:
    """The target table as an Asset, named after the pipeline so `after:` can refer to it by name."""
    return Asset(name=p.name, uri=f"dagfactory://{p.target.conn_id}/{p.target.table}", group="dag_factory")


def schedule_for(p: Pipeline) -> Any:
    if p.after:
        condition: BaseAsset = Asset.ref(name=p.after[0])
        for upstream in p.after[1:]:
            condition = condition & Asset.ref(name=upstream)
        return condition
    return CronDataIntervalTimetable(cron_of(p.schedule), timezone=p.timezone) if p.schedule else None


def _deadline(p: Pipeline) -> DeadlineAlert | None:
    if not p.alerts.deadline:
        return None
    channels = [{"kind": c.kind, "conn_id": c.conn_id, "addresses": list(c.addresses)} for c in p.alerts.on_failure]
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=p.alerts.deadline,
        callback=AsyncCallback(
            deadline_missed, kwargs={"pipeline": p.name, "channels": channels, "deadline": str(p.alerts.deadline)}
        ),
    )


@lru_cache(maxsize=256)
def _validate_timetable(schedule: str | None, tz: str) -> None:
    """dag.validate() is timetable.validate() (a croniter parse, ~0.3 ms) plus checks for
    setup/teardown tasks and owner links we never create; 1000 pipelines share a handful of
    schedules, so each (cron, zone) is validated once per process."""
    if schedule:
        CronDataIntervalTimetable(cron_of(schedule), timezone=tz).validate()


def _parallel_extract(p: Pipeline, dag: DAG, source_name: str, lake_name: str) -> tuple[BaseOperator, BaseOperator]:
    """plan -> N mapped parts (dynamic task mapping over the plan's XCom) -> commit: (plan, commit)."""
    plan = PlanPartsOperator(
        task_id="plan",
        task_display_name=f"Plan {parallel_text(p)} of {source_name}",
        doc_md="Fixes the ranges of the parts for the run's interval; every part reads its range from here.",
        pipeline=p,
        dag=dag,
    )
    parts = ExtractPartOperator.partial(
        task_id="to_lake",
        task_display_name=f"Extract a part of {source_name} -> {lake_name}",
        doc_md="One range of the source into its own part files; a failed part retries alone.",
        pipeline=p,
        dag=dag,
    ).expand(part=plan.output)
    commit = CommitPartsOperator(
        task_id="commit",
        task_display_name=f"Commit the parts into {lake_name}",
        doc_md="Publishes all parts as the interval's partition at once: readers see all of them or the previous one.",
        pipeline=p,
        dag=dag,
    )
    parts >> commit
    return plan, commit


# DAG arguments whose default Airflow reads from its config inside every DAG(...): taken once per
# parse from the first DAG built and passed to the rest (the same values; 2,000 config lookups
# were ~6% of parsing 1,000 pipelines)
FROM_AIRFLOW_CONFIG = ("max_active_tasks", "max_consecutive_failed_dag_runs")


def airflow_config_defaults(dag: DAG) -> dict[str, Any]:
    return {name: getattr(dag, name) for name in FROM_AIRFLOW_CONFIG}


def build_dag(p: Pipeline, config_defaults: dict[str, Any] | None = None) -> DAG:
    """The pipeline's DAG; `config_defaults` (airflow_config_defaults of a DAG built in the same
    parse) saves Airflow's per-DAG config lookups."""
    zone = ZoneInfo(p.timezone)
    default_args: dict[str, Any] = {
        "owner": p.owner,
        "retries": p.retries,
        "retry_delay": p.retry_delay,
        "execution_timeout": p.timeout,
    }
    if p.alerts.on_failure:
        default_args["on_failure_callback"] = [PipelineNotifier(p.name, "failure", p.alerts.on_failure)]
    dag = DAG(
        dag_id=p.name,
        description=(p.description or f"{p.load.mode} load into {p.target.table}")[:200],
        schedule=schedule_for(p),
        start_date=datetime.combine(p.start_date, time(0), tzinfo=zone),
        end_date=datetime.combine(p.end_date, time(0), tzinfo=zone) if p.end_date else None,
        catchup=p.catchup,
        max_active_runs=p.max_active_runs,
        tags=dag_tags(p),
        doc_md=doc_md(p),
        default_args=default_args,
        auto_register=False,
        deadline=_deadline(p),
        **(config_defaults or {}),
    )
    source_name = p.source.label
    lake_name = lake_label(p)
    extract = None
    if not p.in_warehouse:
        with TaskGroup("extract", tooltip=f"{p.source.conn_id} -> {lake_name}", dag=dag):
            if parallel_text(p):
                first, extract = _parallel_extract(p, dag, source_name, lake_name)
            else:
                extract = first = ExtractOperator(
                    task_id="to_lake",
                    task_display_name=f"Extract {source_name} -> {lake_name}",
                    doc_md=f"Reads `{p.source.conn_id}`.`{source_name}` for the run's interval and writes Parquet to {lake_name}.",
                    pipeline=p,
                    dag=dag,
                )
            wait = p.source.wait if isinstance(p.source, FileSource) else None
            if wait is not None:  # a file source whose files may arrive late
                from dag_factory.airflow.sensors import FilesSensor

                sensor = FilesSensor(
                    task_id="wait_for_files",
                    task_display_name=f"Wait for {p.source.label}"[:100],
                    doc_md=f"Waits (up to {wait.timeout}) until a file matches `{p.source.label}` for the run's interval.",
                    pipeline=p,
                    mode="reschedule",
                    timeout=wait.timeout.total_seconds(),
                    poke_interval=wait.poke_interval.total_seconds(),
                    retries=0,
                    dag=dag,
                )
                sensor >> first
    # checks nest inside `load` (load.stage -> load.checks.* -> load.publish): a sibling
    # `checks` group between two `load` tasks makes the UI's group sort see a cycle.
    with TaskGroup("load", tooltip=f"stage, check, then publish into {p.target.table}", dag=dag) as load_group:
        stage = StageOperator(
            task_id="stage",
            task_display_name=f"Stage (write) {staged_from(p).replace('inside', 'in')}",
            doc_md="Writes this run's rows into a staging table beside the target; nothing is visible yet.",
            pipeline=p,
            dag=dag,
        )
        checks = None
        if p.checks:
            with TaskGroup(
                "checks", tooltip="data-quality checks on the staged rows", parent_group=load_group, dag=dag
            ) as checks:
                for c in p.checks:
                    CheckOperator(
                        task_id=c.name,
                        task_display_name=f"Check {c.describe()}"[:100],
                        doc_md=f"Fails the run (and publishes nothing) unless: {c.describe()}.",
                        check_name=c.name,
                        pipeline=p,
                        retries=0,
                        dag=dag,
                    )
        publish = PublishOperator(
            task_id="publish",
            task_display_name=f"Publish {p.target.table} ({p.load.mode})",
            doc_md=f"Publishes into `{p.target.table}`: {mode_line(p)}.",
            pipeline=p,
            outlets=[asset_for(p)],
            pool=publish_pool(p.target.conn_id),  # caps concurrent publishes into one warehouse
            on_success_callback=[PipelineNotifier(p.name, "success", p.alerts.on_success)] if p.alerts.on_success else None,
            dag=dag,
        )
        if checks is not None:
            stage >> checks >> publish
        else:
            stage >> publish
    if extract is not None:
        extract >> stage
    # What dag.validate() would check, once per cron. No check_cycle() or setup/teardown check
    # here (~3% of our parse): the graph above is a fixed chain (wait -> extract -> stage ->
    # checks -> publish) with no setup/teardown tasks, and DagBag runs both again anyway.
    _validate_timetable(p.schedule, p.timezone)
    return dag


def build_placeholder(error: FileError, dag_id: str, owner: str | None = None) -> DAG:
    """A visible stand-in for a pipeline whose file is invalid: no schedule, one failing task.
    The DAG list shows the display name and the owner, so the error goes there, not only in
    the docs one click away."""
    text = str(error.error)
    problems = error.error.problems
    first = problems[0].format() if problems else text
    if problems:
        p = problems[0]
        short = f"{p.message}" + (f" ({p.hint})" if p.hint else "")
        where = f"line {p.line}: " if p.line else ""
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        display = f"{dag_id}: CONFIG ERROR {where}{short}"
        display = (display if len(display) <= 180 else display[:177] + "...") + more
    else:
        display = f"{dag_id}: CONFIG ERROR"
    dag = DAG(
        dag_id=dag_id,
        dag_display_name=display,
        description=f"CONFIG ERROR: {first}"[:200],
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")),
        catchup=False,
        tags=[CONFIG_ERROR_TAG],
        default_args={"owner": owner} if owner else {},
        doc_md=f"### Config error in `{error.path}`\n\nThis pipeline is not loaded until its file is fixed. "
        f"Run `dag-factory lint {error.path}` locally.\n\n" + "\n".join(fenced(text)),
        auto_register=False,
    )
    ConfigErrorOperator(task_id="config_error", task_display_name="Config error: fix the YAML", error_text=text, dag=dag)
    dag.validate()
    return dag
