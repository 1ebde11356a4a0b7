"""The generated DAGs run in-process with `dag.test()` (metadata DB only, no scheduler):
what `dag-factory demo` does day by day. Airflow's DagBag stays in this layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from dag_factory.airflow.builder import CONFIG_ERROR_TAG
from dag_factory.airflow.operators import PublishOperator
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval, interval_for_date


@dataclass(frozen=True)
class LocalDag:
    dag: DAG
    pipeline: Pipeline


@dataclass
class DagFolder:
    dags: list[LocalDag]  # scheduled pipelines first, then those that run `after:` them
    import_errors: dict[str, str]
    config_errors: list[str]  # DAG ids of placeholder DAGs (a pipeline file is invalid)


def load_dag_folder(folder: Path) -> DagFolder:
    """Parse `folder` the way the dag-processor does and pair each DAG with its pipeline."""
    bag = DagBag(dag_folder=str(folder), bundle_name="dags-folder")
    dags, config_errors = [], []
    for dag_id, dag in sorted(bag.dags.items()):
        if CONFIG_ERROR_TAG in dag.tags:
            config_errors.append(dag_id)
            continue
        publish = dag.get_task("load.publish")
        if not isinstance(publish, PublishOperator):
            raise TypeError(f"{dag_id}: load.publish is a {type(publish).__name__}, not a dag_factory DAG")
        dags.append(LocalDag(dag, publish.pipeline))
    # the scheduler would trigger `after:` pipelines through their assets once the upstreams
    # published; run in this order, dag.test() gives them the day's fresh data
    dags.sort(key=lambda d: (bool(d.pipeline.after), d.dag.dag_id))
    return DagFolder(dags, {str(k): str(v) for k, v in bag.import_errors.items()}, config_errors)


def run_for_day(local: LocalDag, day: date) -> tuple[Interval, str]:
    """Run the DAG for the interval that `day` falls in; (interval, final state)."""
    pipeline, dag = local.pipeline, local.dag
    interval = interval_for_date(pipeline.schedule, pipeline.timezone, day)
    # Airflow 3.3.2's dag.test() looks deadline alerts up by id on a DAG that was never
    # written to the DB ('dict' object has no attribute 'hex'); the scheduler path is fine.
    dag.deadline = None
    if pipeline.after:  # asset-triggered: no logical date, like a run the scheduler starts
        run = dag.test(run_after=interval.end, logical_date=None)
    else:
        run = dag.test(logical_date=interval.end)
    return interval, str(getattr(run, "state", "unknown"))
