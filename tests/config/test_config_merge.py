"""_defaults.yaml layering, environments, located errors from defaults, discovery and unique names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dag_factory.cli.lint import lint_command
from dag_factory.config.loader import discover, is_pipeline_file, load_pipeline, load_pipelines
from dag_factory.errors import ConfigError
from tests.config.helpers import pipeline_yaml, problem_lines, write

ROOT_DEFAULTS = """\
owner: data-eng
tags: [base, shared]
retries: 3
source:
  type: sql
  conn_id: shop_db
target:
  conn_id: warehouse
lake:
  conn_id: lake
  path: raw/default
environments:
  prod:
    target:
      conn_id: redshift
    retries: 5
"""

SALES_DEFAULTS = """\
owner: sales-team
tags: [sales]
source:
  batch_size: 1000
"""

ORDERS = """\
version: 1
name: orders
tags: [orders]
source:
  table: orders
load:
  mode: incremental
  cursor: updated_at
  primary_key: [id]
target:
  table: analytics.orders
"""

TOP = """\
version: 1
name: top_level
source:
  table: customers
load:
  mode: snapshot
target:
  conn_id: local_wh
  table: analytics.customers
lake: null
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", ROOT_DEFAULTS)
    write(root / "sales" / "_defaults.yaml", SALES_DEFAULTS)
    write(root / "sales" / "orders.yaml", ORDERS)
    write(root / "top_level.yaml", TOP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAG_FACTORY_ENV", raising=False)
    return root


def test_parent_and_sub_folder_defaults_deep_merge(tree: Path):
    p = load_pipeline(tree / "sales" / "orders.yaml", tree)
    assert p.owner == "sales-team"  # the sub folder's defaults beat the parent's
    assert p.tags == ("orders",)  # lists replace, they do not concatenate
    assert p.retries == 3  # from the root defaults, untouched below
    # mappings merge key by key across three layers
    assert (p.source.type, p.source.conn_id, p.source.table, p.source.batch_size) == ("sql", "shop_db", "orders", 1000)
    assert (p.target.conn_id, p.target.table) == ("warehouse", "analytics.orders")
    assert (p.lake.conn_id, p.lake.path) == ("lake", "raw/default")
    assert p.load.primary_key == ("id",)
    assert p.path == "pipelines/sales/orders.yaml"


def test_sibling_folder_gets_only_the_parent_defaults(tree: Path):
    p = load_pipeline(tree / "top_level.yaml", tree)
    assert p.owner == "data-eng"
    assert p.tags == ("base", "shared")
    assert p.source.batch_size == 50_000
    assert p.target.conn_id == "local_wh"  # the pipeline wins over the defaults
    assert p.lake is None  # `lake: null` turns off a lake set in _defaults.yaml


def test_pipeline_list_replaces_defaults_list_even_when_shorter(tmp_path: Path):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "tags: [a, b, c]\n")
    write(root / "short_tags.yaml", pipeline_yaml("short_tags", extra="tags: [z]\n"))
    assert load_pipeline(root / "short_tags.yaml", root, env="local").tags == ("z",)


def test_environment_in_defaults_beats_the_pipeline_base_value(tree: Path):
    local = load_pipeline(tree / "top_level.yaml", tree, env="local")
    prod = load_pipeline(tree / "top_level.yaml", tree, env="prod")
    assert local.target.conn_id == "local_wh"
    assert prod.target.conn_id == "redshift"  # documented in merge.py: defaults' env block > pipeline base
    assert prod.target.table == "analytics.customers"  # the env block merges, it does not replace target
    assert (local.retries, prod.retries) == (3, 5)
    assert (local.env, prod.env) == ("local", "prod")
    assert "environments" not in prod.resolved
    assert prod.resolved["target"] == {"conn_id": "redshift", "table": "analytics.customers"}


def test_environment_is_read_from_DAG_FACTORY_ENV(tree: Path, monkeypatch):
    monkeypatch.setenv("DAG_FACTORY_ENV", "prod")
    p = load_pipeline(tree / "sales" / "orders.yaml", tree)
    assert (p.env, p.target.conn_id, p.retries) == ("prod", "redshift", 5)
    assert load_pipeline(tree / "sales" / "orders.yaml", tree, env="local").target.conn_id == "warehouse"


def test_unknown_environment_changes_nothing(tree: Path):
    p = load_pipeline(tree / "sales" / "orders.yaml", tree, env="staging")
    assert (p.env, p.target.conn_id, p.retries) == ("staging", "warehouse", 3)


def test_pipeline_environment_beats_defaults_environment(tmp_path: Path):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "environments:\n  prod:\n    target:\n      conn_id: redshift\n")
    write(
        root / "own_env.yaml",
        pipeline_yaml(
            "own_env", extra="environments:\n  prod:\n    target:\n      conn_id: special_wh\n    schedule: '@hourly'\n"
        ),
    )
    p = load_pipeline(root / "own_env.yaml", root, env="prod")
    assert (p.target.conn_id, p.schedule) == ("special_wh", "@hourly")
    assert load_pipeline(root / "own_env.yaml", root, env="local").target.conn_id == "warehouse"


def test_lint_env_option_selects_the_environment(tmp_path: Path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "environments:\n  prod:\n    target:\n      conn_id: 'bad conn'\n")
    write(root / "env_lint.yaml", pipeline_yaml("env_lint"))
    monkeypatch.chdir(tmp_path)
    # lint checks every environment; the active one's problems carry no suffix
    assert lint_command(["pipelines"], env="local") == 1
    assert "(in environment 'prod')" in capsys.readouterr().out
    assert lint_command(["pipelines"], env="prod") == 1
    assert problem_lines(capsys.readouterr().out)[0].startswith("pipelines/_defaults.yaml:4:16: 'bad conn' is not valid")


def test_error_in_a_defaults_value_points_at_the_defaults_file(tmp_path: Path, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "owner: data-eng\nretries: many\nretry_delay: 5 minutes\n")
    write(root / "sub" / "_defaults.yaml", "source:\n  type: sql\n  conn_id: shop_db\n  table: 'orders; drop'\n")
    write(root / "sub" / "from_defaults.yaml", pipeline_yaml("from_defaults").replace("  table: orders\n", ""))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_pipeline(root / "sub" / "from_defaults.yaml", root, env="local")
    got = [(p.file, p.line, p.column, p.key_path) for p in info.value.problems]
    assert got == [
        ("pipelines/_defaults.yaml", 2, 10, "retries"),
        ("pipelines/_defaults.yaml", 3, 14, "retry_delay"),
        ("pipelines/sub/_defaults.yaml", 4, 10, "source.table"),
    ]


def test_error_from_a_defaults_environment_block_points_at_the_defaults_file(tmp_path: Path, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "retries: 1\nenvironments:\n  prod:\n    retries: many\n")
    write(root / "env_value.yaml", pipeline_yaml("env_value"))
    monkeypatch.chdir(tmp_path)
    assert load_pipeline(root / "env_value.yaml", root, env="local").retries == 1
    with pytest.raises(ConfigError) as info:
        load_pipeline(root / "env_value.yaml", root, env="prod")
    [problem] = info.value.problems
    assert problem.format() == "pipelines/_defaults.yaml:4:14: expected an integer, got 'many' [retries]"


def test_pipeline_own_problems_come_before_defaults_problems(tmp_path: Path, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "retries: many\n")
    write(root / "mixed.yaml", pipeline_yaml("mixed", extra="timezone: Nowhere/City\n"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_pipeline(root / "mixed.yaml", root, env="local")
    assert [p.file for p in info.value.problems] == ["pipelines/mixed.yaml", "pipelines/_defaults.yaml"]


def test_a_pipeline_value_hides_a_bad_default(tmp_path: Path):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "retries: many\n")
    write(root / "overrides_it.yaml", pipeline_yaml("overrides_it", extra="retries: 4\n"))
    assert load_pipeline(root / "overrides_it.yaml", root, env="local").retries == 4


def test_broken_defaults_file_fails_every_pipeline_below_it_only(tmp_path: Path, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "bad" / "_defaults.yaml", "owner: [unclosed\n")
    write(root / "bad" / "below_one.yaml", pipeline_yaml("below_one"))
    write(root / "bad" / "below_two.yaml", pipeline_yaml("below_two"))
    write(root / "good" / "beside.yaml", pipeline_yaml("beside"))
    monkeypatch.chdir(tmp_path)
    result = load_pipelines(root, env="local")
    assert sorted(result.pipelines) == ["beside"]
    assert sorted(e.path.name for e in result.errors) == ["below_one.yaml", "below_two.yaml"]
    for e in result.errors:
        [problem] = e.error.problems
        assert problem.file == "pipelines/bad/_defaults.yaml"
        assert "YAML syntax error" in problem.message


def test_defaults_file_must_be_a_mapping(tmp_path: Path, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "- owner: x\n")
    write(root / "under_list.yaml", pipeline_yaml("under_list"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_pipeline(root / "under_list.yaml", root, env="local")
    assert info.value.problems[0].format() == "pipelines/_defaults.yaml:1:1: a _defaults.yaml file must be a mapping of keys"


def test_files_and_folders_starting_with_underscore_are_never_pipelines(tmp_path: Path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "owner: data-eng\n")
    write(root / "_draft.yaml", "this: [is not, a pipeline\n")
    write(root / "_archive" / "old_one.yaml", "version: 99\n")
    write(root / ".hidden" / "secret.yaml", "version: 99\n")
    write(root / ".dotfile.yaml", "version: 99\n")
    write(root / "notes.txt", "not yaml\n")
    write(root / "real_one.yaml", pipeline_yaml("real_one"))
    write(root / "sub" / "_defaults.yaml", "owner: sub-team\n")
    write(root / "sub" / "real_two.yml", pipeline_yaml("real_two"))
    monkeypatch.chdir(tmp_path)
    assert [p.relative_to(root).as_posix() for p in discover(root)] == ["real_one.yaml", "sub/real_two.yml"]
    assert not is_pipeline_file(Path("_defaults.yaml"))
    assert not is_pipeline_file(Path("_anything.yaml"))
    assert is_pipeline_file(Path("x.yml")) and is_pipeline_file(Path("x.yaml"))
    result = load_pipelines(root, env="local")
    assert sorted(result.pipelines) == ["real_one", "real_two"] and not result.errors
    assert result.pipelines["real_two"].owner == "sub-team"
    assert lint_command(["pipelines"]) == 0
    assert "2 pipeline files checked: 2 valid" in capsys.readouterr().out


def test_duplicate_names_across_folders_name_the_first_file(tmp_path: Path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "a_team" / "orders_copy.yaml", pipeline_yaml("orders_copy"))
    write(root / "b_team" / "orders_copy.yaml", pipeline_yaml("orders_copy"))
    monkeypatch.chdir(tmp_path)
    result = load_pipelines(root, env="local")
    assert list(result.pipelines) == ["orders_copy"]
    assert result.pipelines["orders_copy"].path == "pipelines/a_team/orders_copy.yaml"
    [error] = result.errors
    assert error.path.parent.name == "b_team"
    [problem] = error.error.problems
    # located on the second file's `name:` line (the key, column 1, today)
    assert (problem.file, problem.line, problem.key_path) == ("pipelines/b_team/orders_copy.yaml", 2, "name")
    assert problem.message == "pipeline name 'orders_copy' is already used by pipelines/a_team/orders_copy.yaml"
    assert lint_command(["pipelines"]) == 1
    out = capsys.readouterr().out
    assert "pipelines/b_team/orders_copy.yaml:2:" in out
    assert "pipeline name 'orders_copy' is already used by pipelines/a_team/orders_copy.yaml" in out
    assert "2 pipeline files checked: 1 valid, 1 invalid" in out


def test_lint_of_a_sub_folder_uses_the_root_defaults(tmp_path: Path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "source:\n  type: sql\n  conn_id: shop_db\n")
    write(root / "sales" / "needs_root.yaml", pipeline_yaml("needs_root").replace("  type: sql\n  conn_id: shop_db\n", ""))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines/sales"]) == 0, capsys.readouterr().out
    assert lint_command(["pipelines/sales/needs_root.yaml"]) == 0, capsys.readouterr().out


def test_defaults_file_is_read_once_per_load(tmp_path: Path):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "owner: data-eng\n")
    for i in range(5):
        write(root / f"many_{i}.yaml", pipeline_yaml(f"many_{i}"))
    defaults = str(root / "_defaults.yaml")
    opened: list[str] = []
    watching = [True]

    def on_open(event: str, args: tuple) -> None:  # Python's own audit events: every file open
        if watching and event == "open" and isinstance(args[0], (str, Path)) and str(args[0]) == defaults:
            opened.append(str(args[1]))

    sys.addaudithook(on_open)  # hooks cannot be removed; `watching` turns this one off
    try:
        result = load_pipelines(root, env="local")
    finally:
        watching.clear()
    assert len(result.pipelines) == 5 and {p.owner for p in result.pipelines.values()} == {"data-eng"}
    assert len(opened) == 1, opened


def test_duplicate_names_across_two_lint_roots(tmp_path: Path, capsys, monkeypatch):
    write(tmp_path / "team_a" / "same_name.yaml", pipeline_yaml("same_name"))
    write(tmp_path / "team_b" / "same_name.yaml", pipeline_yaml("same_name"))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["team_a", "team_b"]) == 1
    out = capsys.readouterr().out
    assert "team_b/same_name.yaml:1:1: pipeline name 'same_name' is already used by team_a/same_name.yaml" in out
    assert "2 pipeline files checked: 1 valid, 1 invalid" in out
