"""The sharded DAG layout (config/shards.py) as Airflow's own DagBag sees it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization

from dag_factory.config.shards import SINGLE_FILE_TEXT, shard_file_name, shard_of, write_layout

REPO = Path(__file__).resolve().parents[2]
SHARDS = 4
DOMAINS = ["sales", "crm", "finance"]

pytestmark = pytest.mark.airflow


def _pipeline(name: str, after: list[str] | None = None) -> str:
    schedule = f"schedule:\n  after: [{', '.join(after)}]\n" if after else "schedule: '0 3 * * *'\n"
    return (
        f"version: 1\nname: {name}\ndescription: generated for the shard tests\n{schedule}"
        "source: {type: sql, conn_id: shop_db, table: orders}\n"
        "load: {mode: incremental, cursor: updated_at, primary_key: [id]}\n"
        f"target: {{conn_id: warehouse, table: analytics.{name}}}\n"
        "checks:\n  - row_count: {min: 1}\n"
    )


def _pipelines(tmp_path: Path) -> Path:
    """The repository's examples plus 24 pipelines over three folders, some with `after:`."""
    root = tmp_path / "pipelines"
    shutil.copytree(REPO / "pipelines", root)
    for i in range(24):
        domain = DOMAINS[i % len(DOMAINS)]
        (root / domain).mkdir(exist_ok=True)
        after = [f"{DOMAINS[(i - 1) % 3]}_t{i - 1:02d}"] if i % 5 == 4 else None
        (root / domain / f"{domain}_t{i:02d}.yaml").write_text(_pipeline(f"{domain}_t{i:02d}", after))
    return root


def _bag(monkeypatch, pipelines: Path, dags: Path) -> DagBag:
    monkeypatch.setenv("DAG_FACTORY_PIPELINES", str(pipelines))
    return DagBag(dag_folder=str(dags), bundle_name="dags-folder")


def _layout(tmp_path: Path, shards: int) -> Path:
    dags = tmp_path / f"dags_{shards}"
    write_layout(dags, shards)
    return dags


def _shape(dag) -> str:
    """Everything a DAG carries as the scheduler stores it, less the file it came from."""
    data = DagSerialization.to_dict(dag)["dag"]
    for key in ("fileloc", "relative_fileloc"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, default=str)


def test_sharded_layout_builds_exactly_the_single_file_dags(monkeypatch, tmp_path):
    pipelines = _pipelines(tmp_path)
    single = _bag(monkeypatch, pipelines, _layout(tmp_path, 1))
    sharded = _bag(monkeypatch, pipelines, _layout(tmp_path, SHARDS))
    assert single.import_errors == {} and sharded.import_errors == {}
    assert len(single.dags) == 28 and sorted(single.dags) == sorted(sharded.dags)
    for dag_id, dag in single.dags.items():
        other = sharded.dags[dag_id]
        assert "config-error" not in dag.tags
        assert _shape(dag) == _shape(other), dag_id
        assert Path(other.fileloc).name == shard_file_name(shard_of(dag_id, SHARDS), SHARDS)
    used = {Path(d.fileloc).name for d in sharded.dags.values()}
    assert len(used) == SHARDS  # every shard file builds some of them


def test_after_across_shards_still_resolves_and_a_missing_name_is_still_caught(monkeypatch, tmp_path):
    pipelines = _pipelines(tmp_path)
    downstream = next(
        (f"sales_x{i}", f"crm_y{j}")
        for i in range(50)
        for j in range(50)
        if shard_of(f"sales_x{i}", SHARDS) != shard_of(f"crm_y{j}", SHARDS)
    )
    (pipelines / "sales" / f"{downstream[0]}.yaml").write_text(_pipeline(downstream[0], [downstream[1]]))
    (pipelines / "crm" / f"{downstream[1]}.yaml").write_text(_pipeline(downstream[1]))
    (pipelines / "sales" / "sales_typo.yaml").write_text(_pipeline("sales_typo", [downstream[1] + "z"]))
    bag = _bag(monkeypatch, pipelines, _layout(tmp_path, SHARDS))
    dag = bag.dags[downstream[0]]
    assert "config-error" not in dag.tags
    assert dag.timetable.asset_condition.name == downstream[1]  # one upstream: the asset itself
    typo = bag.dags["sales_typo"]
    assert "config-error" in typo.tags and f"did you mean '{downstream[1]}'" in typo.doc_md


def test_a_broken_yaml_leaves_the_other_shards_untouched(monkeypatch, tmp_path):
    pipelines = _pipelines(tmp_path)
    dags = _layout(tmp_path, SHARDS)
    before = {k: _shape(v) for k, v in _bag(monkeypatch, pipelines, dags).dags.items()}
    (pipelines / "crm" / "crm_t01.yaml").write_text("name: [unclosed\n")
    broken_shard = shard_file_name(shard_of("crm_t01", SHARDS), SHARDS)
    after = _bag(monkeypatch, pipelines, dags)
    assert after.import_errors == {}
    assert "config-error" in after.dags["crm_t01"].tags
    assert Path(after.dags["crm_t01"].fileloc).name == broken_shard
    others = [k for k, v in after.dags.items() if Path(v.fileloc).name != broken_shard]
    assert others and all(_shape(after.dags[k]) == before[k] for k in others)


def test_a_worker_builds_only_the_dag_it_runs(monkeypatch, tmp_path):
    pipelines = _pipelines(tmp_path)
    dags = _layout(tmp_path, SHARDS)
    target = "finance_t05"
    shard_file = dags / shard_file_name(shard_of(target, SHARDS), SHARDS)
    monkeypatch.setenv("DAG_FACTORY_PIPELINES", str(pipelines))
    whole = DagBag(dag_folder=str(shard_file), bundle_name="dags-folder")
    assert len(whole.dags) > 1 and target in whole.dags
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", target)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "extract.to_lake")
    bag = DagBag(dag_folder=str(shard_file), bundle_name="dags-folder", safe_mode=False)
    assert list(bag.dags) == [target]
    assert _shape(bag.dags[target]) == _shape(whole.dags[target])


def test_a_replaced_layout_left_in_the_folder_builds_nothing(monkeypatch, tmp_path):
    """A bucket synced without deleting keeps generate.py and an older shard set: no DAG twice."""
    pipelines = _pipelines(tmp_path)
    dags = _layout(tmp_path, SHARDS)
    (dags / "generate.py").write_text(SINGLE_FILE_TEXT)
    (dags / shard_file_name(0, 2)).write_text((dags / shard_file_name(0, SHARDS)).read_text().replace("shards=4", "shards=2"))
    bag = _bag(monkeypatch, pipelines, dags)
    assert bag.import_errors == {}
    assert len(bag.dags) == 28
    assert {Path(d.fileloc).name for d in bag.dags.values()} == {shard_file_name(i, SHARDS) for i in range(SHARDS)}


def test_write_layout_replaces_the_single_file_and_back(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "generate.py").write_text(SINGLE_FILE_TEXT)
    (dags / "mine.py").write_text("# a hand-written DAG file stays\n")
    written, removed = write_layout(dags, 3)
    assert sorted(p.name for p in dags.iterdir()) == sorted(["mine.py", *(shard_file_name(i, 3) for i in range(3))])
    assert [p.name for p in removed] == ["generate.py"] and len(written) == 3
    for path in written:  # Airflow's safe mode skips a .py file without both words
        assert "airflow" in path.read_text() and "dag" in path.read_text()
    write_layout(dags, 1)
    assert sorted(p.name for p in dags.iterdir()) == ["generate.py", "mine.py"]
    assert (dags / "generate.py").read_text() == SINGLE_FILE_TEXT
