"""Pipeline -> DAG, and config error -> placeholder DAG.

DAGs are built with auto_register=False and validated before the generator puts
them in the module's globals, so a half-built DAG never reaches Airflow.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from airflow.sdk import DAG, CronDataIntervalTimetable

from dag_factory.airflow.docs import doc_md, mode_line
from dag_factory.airflow.operators import ConfigErrorOperator, ExtractOperator, LoadOperator
from dag_factory.config.loader import FileError
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import cron_of

CONFIG_ERROR_TAG = "config-error"


def tags_for(p: Pipeline) -> list[str]:
    base = [p.load.mode, f"source:{p.source.conn_id}", f"target:{p.target.conn_id}"]
    return list(dict.fromkeys(base + list(p.tags)))


def build_dag(p: Pipeline) -> DAG:
    zone = ZoneInfo(p.timezone)
    timetable = CronDataIntervalTimetable(cron_of(p.schedule), timezone=p.timezone) if p.schedule else None
    dag = DAG(
        dag_id=p.name,
        description=(p.description or f"{p.load.mode} load into {p.target.table}")[:200],
        schedule=timetable,
        start_date=datetime.combine(p.start_date, time(0), tzinfo=zone),
        end_date=datetime.combine(p.end_date, time(0), tzinfo=zone) if p.end_date else None,
        catchup=p.catchup,
        max_active_runs=p.max_active_runs,
        tags=tags_for(p),
        doc_md=doc_md(p),
        default_args={
            "owner": p.owner,
            "retries": p.retries,
            "retry_delay": p.retry_delay,
            "execution_timeout": p.timeout,
        },
        auto_register=False,
    )
    source_name = p.source.table or "query"
    lake_name = f"lake {p.lake.path}" if p.lake else "local staging"
    extract = ExtractOperator(
        task_id="extract",
        task_display_name=f"Extract {source_name} -> {lake_name}",
        doc_md=f"Reads `{p.source.conn_id}`.`{source_name}` for the run's interval and writes Parquet to {lake_name}.",
        pipeline=p,
        dag=dag,
    )
    load = LoadOperator(
        task_id="load",
        task_display_name=f"Load {p.target.table} ({p.load.mode})",
        doc_md=f"Loads into `{p.target.table}`: {mode_line(p)}.",
        pipeline=p,
        dag=dag,
    )
    extract >> load
    dag.validate()
    dag.check_cycle()
    return dag


def build_placeholder(error: FileError, dag_id: str) -> DAG:
    """A visible stand-in for a pipeline whose file is invalid: no schedule, one failing task."""
    text = str(error.error)
    first = error.error.problems[0].format() if error.error.problems else text
    dag = DAG(
        dag_id=dag_id,
        description=f"CONFIG ERROR: {first}"[:200],
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")),
        catchup=False,
        tags=[CONFIG_ERROR_TAG],
        doc_md=f"### Config error in `{error.path}`\n\nThis pipeline is not loaded until its file is fixed. "
        f"Run `dag-factory lint {error.path}` locally.\n\n```\n{text}\n```",
        auto_register=False,
    )
    ConfigErrorOperator(task_id="config_error", task_display_name="Config error: fix the YAML", error_text=text, dag=dag)
    dag.validate()
    return dag
