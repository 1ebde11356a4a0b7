"""The DAGs built from an MWAA-style DAG folder with dag_factory installed from a wheel.

MWAA installs Python packages from requirements.txt into its own environment and syncs one
S3 folder as the DAG folder; `pipelines/` must therefore sit inside that folder. This test:

1. builds a wheel of the project (pip wheel, from a copy of the sources, so the work tree
   gets no build/ folder) and installs it (--no-deps) into a fresh venv;
2. gives that venv the main venv's third-party packages (Airflow, duckdb, ...) through a
   .pth line - but not our editable install, whose path hook is itself a .pth file and
   .pth files in an added folder are not processed - and checks that `dag_factory`
   resolves to the wheel and the schema to the wheel's packaged copy;
3. lays out dags/generate.py + dags/pipelines/ like an MWAA bucket (no repository root on
   sys.path, cwd elsewhere) and runs Airflow's DagBag over it in that venv;
4. compares DAG ids, task ids and edges, timetables, tags, owners and start dates with a
   DagBag over the repository layout in the main venv. Both in DAG_FACTORY_ENV=prod.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DUMP = textwrap.dedent(
    """
    import json, os, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    import dag_factory
    from dag_factory.config.validate import schema_path

    folder = os.path.realpath(sys.argv[1])
    bag = DagBag(dag_folder=folder, bundle_name="dags-folder")
    pipelines = os.path.realpath(sys.argv[2])
    LOCATION = {"fileloc", "relative_fileloc", "_processor_dags_folder"}

    def plain(value):
        # JSON-comparable, with the location of the pipelines folder taken out
        text = json.dumps(value, default=str, sort_keys=True).replace(pipelines, "<pipelines>")
        return json.loads(text)

    def assets(condition):
        # an asset condition as data: {"AssetAll": [{"AssetNameRef": "shop_orders"}, ...]}
        if condition is None:
            return None
        kind = type(condition).__name__
        if hasattr(condition, "objects"):
            return {kind: [assets(o) for o in condition.objects]}
        return {kind: getattr(condition, "name", None) or getattr(condition, "uri", None)}

    def finder_name(finder):
        # meta_path holds classes (setuptools' editable finder) and instances
        return f"{getattr(finder, '__module__', '')}.{getattr(finder, '__qualname__', type(finder).__qualname__)}"

    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        tt = dag.timetable
        serialized = DagSerialization.serialize_dag(dag)
        dags[dag_id] = {
            "tasks": sorted(t.task_id for t in dag.tasks),
            "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
            "timetable": type(tt).__name__,
            "cron": getattr(tt, "expression", None),
            "timezone": str(getattr(tt, "timezone", "")),
            "assets": assets(getattr(tt, "asset_condition", None)),
            "tags": sorted(dag.tags),
            "owner": dag.owner,
            "start_date": str(dag.start_date),
            "retries": sorted({t.retries for t in dag.tasks}),
            "pools": {t.task_id: t.pool for t in dag.tasks},
            "serialized": plain({k: v for k, v in serialized.items() if k not in LOCATION}),
        }
    print(json.dumps({
        "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": dags,
        "dag_factory": dag_factory.__file__,
        "schema": str(schema_path()),
        "editable_hooks": [finder_name(f) for f in sys.meta_path if "editable" in finder_name(f).lower()],
        "sys_path": sys.path,
    }))
    """
)


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return out


def _clean_env(home: Path, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DAG_FACTORY_", "PYTHON", "_AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "DAG_FACTORY_ENV": "prod",  # what an MWAA environment sets
            "PYTHONNOUSERSITE": "1",
        }
    )
    env.update(extra or {})
    return env


def _dump(
    python: Path,
    dags: Path,
    pipelines: Path,
    work: Path,
    name: str,
    extra: dict[str, str] | None = None,
    config: Path | None = None,
) -> dict:
    script = work / "dump_dagbag.py"
    script.write_text(DUMP)
    home = work / f"airflow-{name}"
    home.mkdir(exist_ok=True)
    if config is not None:  # $AIRFLOW_HOME/config is where Airflow imports airflow_local_settings from
        (home / "config").mkdir()
        shutil.copy(config, home / "config" / config.name)
    out = _run([str(python), str(script), str(dags), str(pipelines)], cwd=work, env=_clean_env(home, dags, extra))
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A venv whose dag_factory is the project's wheel; its other packages are the main venv's."""
    tmp = tmp_path_factory.mktemp("mwaa")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    shutil.copytree(REPO / "dag_factory", src / "dag_factory", ignore=ignore)  # symlinks copied as files
    shutil.copytree(REPO / "schemas", src / "schemas")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("dag_factory_wh-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    # installed while the venv sees nothing else, so pip cannot touch the main venv's install
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip())
    assert (site / "dag_factory" / "config" / "pipeline.schema.json").is_file(), "the wheel must ship the schema"
    (site / "zz_main_venv_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """An MWAA DAG folder: generate.py and pipelines/ side by side, nothing else."""
    dags = tmp_path_factory.mktemp("bucket") / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "generate.py", dags / "generate.py")
    shutil.copytree(REPO / "pipelines", dags / "pipelines")
    return dags


def test_wheel_install_is_what_the_venv_imports(wheel_venv, tmp_path):
    code = "import dag_factory, json, sys; print(json.dumps({'file': dag_factory.__file__, 'path': sys.path}))"
    out = _run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_clean_env(tmp_path, tmp_path)).stdout
    seen = json.loads(out)
    assert Path(seen["file"]).resolve().is_relative_to(wheel_venv.resolve()), seen["file"]
    repo = REPO.resolve()  # this checkout, wherever it is
    lent = Path(sysconfig.get_paths()["purelib"]).resolve()  # the main venv's third-party packages, on purpose
    on_path = [p for p in seen["path"] if p and Path(p).resolve() != lent and Path(p).resolve().is_relative_to(repo)]
    assert not on_path, on_path
    installed = Path(seen["file"]).parent / "config" / "pipeline.schema.json"
    assert installed.read_bytes() == (REPO / "schemas" / "pipeline.schema.json").read_bytes()  # a copy, not a link


def test_packaged_schema_is_the_published_one():
    """Editors and CI use schemas/pipeline.schema.json; lint uses the packaged one."""
    packaged = REPO / "dag_factory" / "config" / "pipeline.schema.json"
    assert packaged.read_bytes() == (REPO / "schemas" / "pipeline.schema.json").read_bytes()


def test_mwaa_layout_builds_the_same_dags_as_the_repository(wheel_venv, bundle, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    mwaa = _dump(wheel_venv / "bin" / "python", bundle, bundle / "pipelines", work, "mwaa")
    repo = _dump(Path(sys.executable), REPO / "dags", REPO / "pipelines", work, "repo")

    assert mwaa["import_errors"] == {} and repo["import_errors"] == {}
    assert Path(mwaa["dag_factory"]).resolve().is_relative_to(wheel_venv.resolve())
    assert Path(mwaa["schema"]).resolve().is_relative_to(wheel_venv.resolve())  # the packaged copy
    assert mwaa["editable_hooks"] == []
    venv_packages = sysconfig.get_paths()["purelib"]  # the main venv's third-party packages, lent on purpose
    outside = [p for p in mwaa["sys_path"] if p != venv_packages]
    assert not any(str(REPO) == p or p.startswith(str(REPO) + os.sep) for p in outside), mwaa["sys_path"]
    assert Path(repo["dag_factory"]).resolve().is_relative_to(REPO)

    assert sorted(mwaa["dags"]) == sorted(repo["dags"]) and len(mwaa["dags"]) >= 4
    for dag_id, dag in mwaa["dags"].items():
        assert "config-error" not in dag["tags"], dag_id
        for key, value in dag.items():
            if key == "serialized":
                for field, content in value.items():  # what the scheduler stores, field by field
                    assert content == repo["dags"][dag_id]["serialized"].get(field), (dag_id, field)
            assert value == repo["dags"][dag_id][key], (dag_id, key)
    orders = mwaa["dags"]["shop_orders"]
    assert orders["cron"] == "0 3 * * *" and orders["timetable"] == "CronDataIntervalTimetable"
    assert "extract.to_lake" in orders["tasks"] and "load.checks.unique" in orders["tasks"]
    prod = load_pipelines(REPO / "pipelines", "prod").pipelines["shop_orders"]
    assert orders["retries"] == sorted({0, prod.retries})  # prod's settings, not local's (checks keep 0 retries)
    assert f"target:{prod.target.conn_id}" in orders["tags"]
    assert mwaa["dags"]["daily_sales_report"]["assets"] == {
        "AssetAll": [{"AssetNameRef": "shop_orders"}, {"AssetNameRef": "shop_customers"}]
    }


def test_a_worker_in_the_mwaa_layout_builds_only_its_dag(wheel_venv, bundle, tmp_path):
    one = _dump(
        wheel_venv / "bin" / "python",
        bundle,
        bundle / "pipelines",
        tmp_path,
        "worker",
        {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": "shop_customers"},
    )
    assert one["import_errors"] == {}
    assert sorted(one["dags"]) == ["shop_customers"]


def test_the_documented_pool_policy_puts_warehouse_writes_in_a_pool(wheel_venv, bundle, tmp_path):
    policy = REPO / "docs" / "examples" / "airflow_local_settings.py"
    local = {"DAG_FACTORY_ENV": "local"}  # the DuckDB warehouse: one writer at a time
    dump = _dump(wheel_venv / "bin" / "python", bundle, bundle / "pipelines", tmp_path, "policy", local, config=policy)
    assert dump["import_errors"] == {}
    for dag_id, dag in dump["dags"].items():
        for task_id, pool in dag["pools"].items():
            writes = task_id.startswith(("load.", "checks.")) and "target:warehouse" in dag["tags"]
            assert pool == ("writer_warehouse" if writes else "default_pool"), (dag_id, task_id, pool)
    assert dump["dags"]["shop_orders"]["pools"]["extract.to_lake"] == "default_pool"
    assert dump["dags"]["shop_orders"]["pools"]["load.publish"] == "writer_warehouse"
