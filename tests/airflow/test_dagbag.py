"""The generated DAGs as Airflow's own DagBag sees them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable

from dag_factory.airflow.generate import generate_dags
from dag_factory.config.loader import discover, load_pipelines

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.stem for p in discover(REPO / "pipelines"))

pytestmark = pytest.mark.airflow


def _bag(monkeypatch: pytest.MonkeyPatch, pipelines: Path | None = None) -> DagBag:
    if pipelines is not None:
        monkeypatch.setenv("DAG_FACTORY_PIPELINES", str(pipelines))
    return DagBag(dag_folder=str(REPO / "dags"), bundle_name="dags-folder")


def test_one_dag_per_example_pipeline_and_no_import_errors(monkeypatch):
    bag = _bag(monkeypatch)
    assert bag.import_errors == {}
    assert sorted(bag.dags) == EXAMPLES
    assert len(EXAMPLES) >= 3


def test_incremental_dag_shape(monkeypatch):
    dag = _bag(monkeypatch).dags["shop_orders"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 3 * * *" and str(dag.timetable.timezone) == "UTC"
    checks = {
        f"load.checks.{name}"
        for name in ("row_count", "not_null", "unique", "accepted_values_status", "freshness_updated_at", "sql_1")
    }
    assert {t.task_id for t in dag.tasks} == {"extract.to_lake", "load.stage", "load.publish"} | checks
    assert dag.get_task("load.stage").upstream_task_ids == {"extract.to_lake"}
    for check in checks:  # write, audit, publish: every check sits between stage and publish
        assert dag.get_task(check).upstream_task_ids == {"load.stage"} and dag.get_task(check).retries == 0
    assert dag.get_task("load.publish").upstream_task_ids == checks
    assert [o.name for o in dag.get_task("load.publish").outlets] == ["shop_orders"]
    assert {g for g in dag.task_group.children} == {"extract", "load"}
    assert {"incremental", "source:shop_db", "target:warehouse", "sales"} <= set(dag.tags)
    assert dag.owner == "data-eng"
    load = dag.get_task("load.publish")
    assert load.retries == 0  # environments.local in pipelines/_defaults.yaml; prod keeps 2
    assert load.retry_delay.total_seconds() == 300 and load.execution_timeout.total_seconds() == 3600
    assert dag.deadline is not None  # alerts.deadline: 2h
    assert load.on_failure_callback and "PipelineNotifier" in type(load.on_failure_callback[0]).__name__
    assert dag.max_active_runs == 1 and dag.catchup is False
    doc = dag.doc_md
    assert "Orders from the shop DB" in doc
    assert "pipelines/shop_orders.yaml" in doc
    assert "[start, end)" in doc and "updated_at" in doc
    assert "At 03:00 AM" in doc
    assert "unique: id" in doc and "slack" in doc  # checks and alerts are in the docs


def test_after_schedule_is_an_asset_condition_and_transform_has_no_extract(monkeypatch):
    dag = _bag(monkeypatch).dags["daily_sales_report"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"  # both upstreams must have loaded, not either
    assert {ref.name for ref in condition.objects} == {"shop_orders", "shop_customers"}
    assert not any(t.task_id.startswith("extract") for t in dag.tasks)
    assert "transform" in dag.tags


def test_preset_schedule_becomes_a_data_interval_timetable(monkeypatch):
    dag = _bag(monkeypatch).dags["shop_customers"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 0 * * *"  # @daily expanded, not CronTriggerTimetable
    assert "snapshot" in dag.tags


def test_broken_yaml_gets_a_placeholder_and_the_rest_still_load(monkeypatch, tmp_path):
    pipelines = tmp_path / "pipelines"
    shutil.copytree(REPO / "pipelines", pipelines)
    (pipelines / "broken_orders.yaml").write_text(
        "version: 1\nname: broken_orders\nsource:\n  type: sql\n  conn_id: shop_db\n  table: orders\n"
        "load:\n  mode: incremental\n  curser: updated_at\ntarget:\n  conn_id: warehouse\n  table: analytics.x\n"
    )
    (pipelines / "not_yaml.yaml").write_text("name: [unclosed\n")
    bag = _bag(monkeypatch, pipelines)
    assert bag.import_errors == {}
    assert set(EXAMPLES) <= set(bag.dags)
    for ok in EXAMPLES:
        assert "config-error" not in bag.dags[ok].tags
    placeholder = bag.dags["broken_orders"]
    assert placeholder.tags == {"config-error"} or set(placeholder.tags) == {"config-error"}
    assert type(placeholder.timetable).__name__ == "NullTimetable"
    assert "broken_orders.yaml:7:1: incremental loads need" in placeholder.description
    assert "broken_orders.yaml:9:3" in placeholder.doc_md
    assert "unknown key 'curser'" in placeholder.doc_md and "did you mean 'cursor'" in placeholder.doc_md
    assert [t.task_id for t in placeholder.tasks] == ["config_error"]
    assert "not_yaml" in bag.dags and "YAML syntax error" in bag.dags["not_yaml"].description


def test_placeholder_task_fails_with_the_error(monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    (tmp_path / "bad_one.yaml").write_text("version: 1\nname: bad_one\n")
    ns: dict = {"__file__": str(tmp_path / "gen.py")}
    generate_dags(ns, str(tmp_path))
    task = ns["bad_one"].get_task("config_error")
    with pytest.raises(AirflowFailException, match=r"bad_one.yaml:1:1: missing required key 'source'"):
        task.execute({})


def _unbuildable(pipelines: Path) -> None:
    """A pipeline the config accepts but Airflow refuses: a 108-character connection id makes the
    generated `source:` tag longer than Airflow's 100 (DAG() raises ValueError)."""
    (pipelines / "long_conn.yaml").write_text(
        "version: 1\nname: long_conn\n"
        f"source: {{type: sql, conn_id: shop_db_{'x' * 100}, table: orders}}\n"
        "load: {mode: snapshot}\ntarget: {conn_id: warehouse, table: analytics.long_conn}\n"
    )


def test_a_dag_that_fails_to_build_becomes_a_placeholder(tmp_path):
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    _unbuildable(tmp_path / "pipelines")
    assert not load_pipelines(tmp_path / "pipelines").errors  # valid config: the failure is Airflow's
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "pipelines"))
    placeholder = ns["long_conn"]
    assert "config-error" in placeholder.tags
    assert "could not build the DAG: ValueError: tag cannot be longer than 100 characters" in placeholder.doc_md
    assert all("config-error" not in ns[name].tags for name in EXAMPLES)


def test_duplicate_name_in_another_folder_does_not_shadow_the_first(tmp_path):
    shutil.copytree(REPO / "pipelines", tmp_path / "p")
    (tmp_path / "p" / "team_b").mkdir()
    shutil.copy(REPO / "pipelines" / "shop_orders.yaml", tmp_path / "p" / "team_b" / "shop_orders.yaml")
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "p"))
    assert "config-error" not in ns["shop_orders"].tags
    assert "already used" in ns["shop_orders_config_error"].doc_md


def test_worker_builds_only_the_dag_it_runs(monkeypatch, tmp_path):
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    _unbuildable(tmp_path / "pipelines")  # building it (or loading it) would add a placeholder
    (tmp_path / "pipelines" / "not_yaml.yaml").write_text("name: [unclosed\n")
    everything: dict = {}
    generate_dags(everything, str(tmp_path / "pipelines"))
    assert {"long_conn", "not_yaml", "shop_customers"} <= set(everything)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "shop_customers")  # set by Airflow on a worker
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "pipelines"))
    assert list(ns) == ["shop_customers"]
    assert "config-error" not in ns["shop_customers"].tags


def test_dags_serialize_like_the_dag_processor_does(monkeypatch):
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in _bag(monkeypatch).dags.values():
        again = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        assert again.dag_id == dag.dag_id
        assert {t.task_id for t in again.tasks} == {t.task_id for t in dag.tasks}


def test_every_dag_takes_airflows_configured_limits(monkeypatch):
    """The generator reads Airflow's per-DAG config defaults once per parse (builder.py
    FROM_AIRFLOW_CONFIG): every DAG, not just the first, carries what the config says."""
    monkeypatch.setenv("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "7")
    monkeypatch.setenv("AIRFLOW__CORE__MAX_CONSECUTIVE_FAILED_DAG_RUNS_PER_DAG", "3")
    dags = _bag(monkeypatch).dags
    assert len(dags) == len(EXAMPLES)
    assert {(d.max_active_tasks, d.max_consecutive_failed_dag_runs) for d in dags.values()} == {(7, 3)}
