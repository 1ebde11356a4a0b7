"""`dag-factory new` and `dag-factory schema`: files that lint clean and build DAGs, prompts
only in a terminal, clear usage errors otherwise."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dag_factory.cli import main
from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A data repository: the example pipelines and the schema, cwd at its top."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAG_FACTORY_PIPELINES")}
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,  # not a terminal: must never prompt
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
        timeout=120,
    )


LOAD_TYPES = {
    "incremental": ["--source", "shop_db.refunds", "--target", "warehouse.analytics.refunds", "--mode", "incremental",
                    "--cursor", "updated_at", "--pk", "id", "--lake-path", "raw/shop/refunds", "--schedule", "0 4 * * *"],
    "incremental_append": ["--source", "shop_db.events", "--target", "warehouse.analytics.events", "--mode", "incremental",
                           "--cursor", "created_at"],
    "snapshot": ["--source", "shop_db:stock", "--target", "warehouse.analytics.stock_snapshot", "--mode", "snapshot",
                 "--lake-path", "raw/shop/stock", "--schedule", "@hourly"],
    "full_refresh": ["--source", "shop_db.suppliers", "--target", "warehouse.analytics.suppliers", "--mode", "full_refresh",
                     "--schedule", "none"],
    "transform": ["--source", "warehouse.analytics.orders", "--target", "warehouse.marts.orders_copy", "--mode", "full_refresh"],
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(LOAD_TYPES))
def test_new_writes_a_lint_clean_commented_file_that_builds_a_dag(kind, repo, capsys):
    name = f"new_{kind}"
    assert main(["new", name, *LOAD_TYPES[kind], "--no-input"]) == 0, capsys.readouterr().err
    path = repo / "pipelines" / f"{name}.yaml"
    text = path.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schemas/pipeline.schema.json"
    assert (path.parent / "../schemas/pipeline.schema.json").resolve().is_file()
    assert sum(1 for line in text.splitlines() if "#" in line) >= 10  # commented for the analyst
    capsys.readouterr()
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out
    result = load_pipelines(repo / "pipelines")
    assert result.errors == []
    p = result.pipelines[name]
    mode = LOAD_TYPES[kind][LOAD_TYPES[kind].index("--mode") + 1]
    assert p.load.mode == mode
    if kind == "incremental":
        assert (p.load.cursor, p.load.primary_key, p.schedule) == ("updated_at", ("id",), "0 4 * * *")
        assert p.lake and p.lake.path == "raw/shop/refunds"
    if kind == "snapshot":
        assert (p.source.conn_id, p.source.table) == ("shop_db", "stock")
    if kind == "full_refresh":
        assert p.schedule is None
    if kind == "transform":
        assert p.in_warehouse and p.lake is None
    assert p.owner == "data-eng"  # _defaults.yaml applies


@pytest.mark.airflow
def test_every_generated_load_type_builds_a_dag(repo, capsys):
    from dag_factory.airflow.generate import generate_dags

    for kind, flags in LOAD_TYPES.items():
        assert main(["new", f"new_{kind}", *flags, "--no-input"]) == 0, capsys.readouterr().err
    ns: dict = {}
    generate_dags(ns, str(repo / "pipelines"))
    for kind in LOAD_TYPES:
        dag = ns[f"new_{kind}"]
        assert "config-error" not in dag.tags, dag.doc_md
        assert "load.publish" in dag.task_ids
        assert ("extract.to_lake" in dag.task_ids) == (kind != "transform")


def test_missing_flags_without_a_terminal_fail_with_a_clear_message(repo):
    out = _cli(["new", "shop_refunds", "--source", "shop_db.refunds"], repo)
    assert out.returncode == 2
    assert "missing --target, --mode" in out.stderr and "not a terminal" in out.stderr
    assert "e.g. dag-factory new" in out.stderr
    assert not (repo / "pipelines" / "shop_refunds.yaml").exists()
    out = _cli(["new"], repo)
    assert out.returncode == 2 and "missing NAME, --source, --target, --mode" in out.stderr
    out = _cli(["new", "x_inc", "--source", "a.b", "--target", "c.d", "--mode", "incremental"], repo)
    assert out.returncode == 2 and "missing --cursor" in out.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["Bad-Name"], "not a valid pipeline name"),
        (["ok_name", "--source", "noconn"], "expected CONN.TABLE"),
        (["ok_name", "--source", "db.bad;table"], "not a table"),
        (
            ["ok_name", "--source", "a.b", "--target", "c.d", "--mode", "snapshot", "--cursor", "x"],
            "only apply to --mode incremental",
        ),
        (["ok_name", "--source", "a.b", "--target", "c.d", "--mode", "snapshot", "--schedule", "0 3 * *"], "5 fields"),
        (["ok_name", "--source", "w.a", "--target", "w.b", "--mode", "snapshot", "--lake-path", "raw/x"], "inside the warehouse"),
        (["ok_name", "--source", "a.b", "--target", "c.d", "--mode", "snapshot", "--lake-path", "../x"], "without '..'"),
    ],
)
def test_bad_values_are_usage_errors(args, message, repo, capsys):
    assert main(["new", *args, "--no-input"]) == 2
    assert message in capsys.readouterr().err
    assert not list((repo / "pipelines").glob("ok_name*")) and not list((repo / "pipelines").glob("Bad*"))


def test_refuses_to_overwrite_and_to_reuse_a_name_or_a_target(repo, capsys):
    before = (repo / "pipelines" / "shop_orders.yaml").read_text()
    flags = ["--source", "shop_db.orders", "--target", "warehouse.analytics.other", "--mode", "snapshot", "--no-input"]
    assert main(["new", "shop_orders", *flags]) == 1
    assert "already exists; not overwriting" in capsys.readouterr().err
    assert (repo / "pipelines" / "shop_orders.yaml").read_text() == before
    (repo / "pipelines" / "team").mkdir()
    assert main(["new", "shop_orders", *flags, "--dir", "pipelines/team"]) == 1  # same name elsewhere in the tree
    assert not (repo / "pipelines" / "team" / "shop_orders.yaml").exists()
    capsys.readouterr()
    # a target that another pipeline loads: reported (wherever lint puts it), nothing left behind
    flags[3] = "warehouse.analytics.orders"
    assert main(["new", "a_orders_copy", *flags]) == 1
    assert "one table, one pipeline" in capsys.readouterr().err
    assert not (repo / "pipelines" / "a_orders_copy.yaml").exists()


def test_sub_folder_gets_the_right_modeline_and_defaults(repo, capsys):
    flags = ["--source", "crm.accounts", "--target", "warehouse.crm.accounts", "--mode", "full_refresh", "--no-input"]
    assert main(["new", "crm_accounts", *flags, "--dir", "pipelines/crm"]) == 0, capsys.readouterr().err
    text = (repo / "pipelines" / "crm" / "crm_accounts.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schemas/pipeline.schema.json\n")
    assert load_pipelines(repo / "pipelines").pipelines["crm_accounts"].owner == "data-eng"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompts_for_what_is_missing_in_a_terminal(repo, monkeypatch, capsys):
    answers = "\n".join(
        [
            "shop_db.refunds",  # source
            "not a table!",  # target: invalid, asked again
            "warehouse.analytics.refunds",
            "",  # mode: default incremental
            "updated_at",  # cursor
            "id",  # primary key
            "",  # schedule: default @daily
            "2024-01-01",  # start_date
            "",  # load the history once: default yes
            "raw/shop/refunds",  # lake path
        ]
    )
    monkeypatch.setattr(sys, "stdin", _Terminal(answers + "\n"))
    assert main(["new", "shop_refunds"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "source CONN.TABLE" in captured.out and "not a table" in captured.err
    p = load_pipelines(repo / "pipelines").pipelines["shop_refunds"]
    assert (p.source.table, p.target.table, p.load.mode, p.load.cursor) == (
        "refunds",
        "analytics.refunds",
        "incremental",
        "updated_at",
    )
    assert p.load.primary_key == ("id",) and p.schedule == "@daily" and p.lake.path == "raw/shop/refunds"
    assert p.start_date.isoformat() == "2024-01-01"


def test_no_input_flag_never_prompts_even_in_a_terminal(repo, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _Terminal("shop_db.x\n"))
    assert main(["new", "shop_x", "--no-input"]) == 2
    assert "missing --source" in capsys.readouterr().err


def test_schema_command_says_where_and_how(repo, capsys):
    from dag_factory.config.validate import schema_path

    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    here = schema_path().resolve()  # in a checkout: the repository's schemas/pipeline.schema.json
    assert here == (REPO / "schemas" / "pipeline.schema.json").resolve()
    assert f"draft-07 keywords):\n  {here}\n" in out
    modeline = os.path.relpath(here, repo / "pipelines")  # relative to a file in pipelines/
    assert f"# yaml-language-server: $schema={Path(modeline).as_posix()}\n" in out
    assert "yaml.schemas" in out and "JSON Schema Mappings" in out
    assert main(["schema", "--copy", "schemas_copy"]) == 0
    out = capsys.readouterr().out
    copied = (repo / "schemas_copy" / "pipeline.schema.json").resolve()
    assert f"draft-07 keywords):\n  {copied}\n" in out  # the copy is now the one to point editors at
    assert "# yaml-language-server: $schema=../schemas_copy/pipeline.schema.json\n" in out
    assert '"./schemas_copy/pipeline.schema.json": ["pipelines/**/*.yaml"' in out
    assert (repo / "schemas_copy" / "pipeline.schema.json").read_bytes() == (
        REPO / "schemas" / "pipeline.schema.json"
    ).read_bytes()
