"""Issue 13.5: lint renders every template a run renders and points at the template's own line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dag_factory.cli.lint import lint_command
from tests.config.helpers import write

HEAD = """\
version: 1
name: {name}
schedule: "@daily"
"""
TAIL = """\
load: {mode: full_refresh}
target: {conn_id: warehouse, table: analytics.t}
"""


def _lint(tmp_path: Path, monkeypatch, capsys, *paths: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    rc = lint_command(list(paths) or ["pipelines"])
    out = capsys.readouterr().out
    return rc, [line for line in out.splitlines() if line.startswith("pipelines/")]


def test_misspelled_interval_in_a_block_query_points_at_its_line(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/q_typo.yaml",
        HEAD.format(name="q_typo")
        + """\
source:
  type: sql
  conn_id: shop_db
  query: |
    select id, updated_at
    from orders
    where updated_at >= {{ data_interval_strt }}
"""
        + TAIL,
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert lines == [
        "pipelines/q_typo.yaml:10:28: source.query: unknown template variable 'data_interval_strt' "
        "(available: data_interval_end, data_interval_start, ds) [source.query] (did you mean 'data_interval_start'?)"
    ]


def test_misspelled_target_in_a_check(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/chk_typo.yaml",
        HEAD.format(name="chk_typo")
        + "source: {type: sql, conn_id: shop_db, table: orders}\n"
        + TAIL
        + 'checks:\n  - row_count: {min: 1}\n  - sql: "select * from {{ tagret }} where id is null"\n',
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert len(lines) == 1
    assert lines[0].startswith("pipelines/chk_typo.yaml:9:28: checks[1].sql: unknown template variable 'tagret'")
    assert lines[0].endswith("(did you mean 'target'?)")


def test_query_file_problems_name_the_line_inside_the_sql_file(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/qf_pipe.yaml",
        HEAD.format(name="qf_pipe") + "source: {type: sql, conn_id: shop_db, query_file: sql/qf.sql}\n" + TAIL,
    )
    write(tmp_path / "pipelines/sql/qf.sql", "select *\nfrom orders\nwhere ds = {{ ds_nodsh }}\n")
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert lines[0].startswith("pipelines/sql/qf.sql:3:15: source.query: unknown template variable 'ds_nodsh'")

    write(tmp_path / "pipelines/sql/qf.sql", "select *\nfrom orders\n{% if ds > '2024-01-01' %}where 1 = 1\n")
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert lines[0].startswith("pipelines/sql/qf.sql:3:1: source.query: template syntax error: Unexpected end of template")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{type: http, conn_id: api, endpoint: /v1/o, params: {since: '{{ ds | nofilter }}'}}",
            "params.since: template error: No filter named 'nofilter'",
        ),
        (
            "{type: file, conn_id: drop, format: csv, path: 'exports/{{ ds.no_such_attr }}/*.csv'}",
            "source.path: template error:",
        ),
        ("{type: sql, conn_id: shop_db, query: 'select * from t where d = {{ ds(1) }}'}", "source.query: SQL template error"),
    ],
)
def test_render_and_compile_errors_are_found(tmp_path, monkeypatch, capsys, source: str, expected: str):
    write(tmp_path / "pipelines/rend.yaml", HEAD.format(name="rend") + f"source: {source}\n" + TAIL)
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert len(lines) == 1 and lines[0].startswith("pipelines/rend.yaml:4:") and expected in lines[0], lines


def test_templates_a_run_accepts_lint_clean(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/good.yaml",
        HEAD.format(name="good")
        + """\
source:
  type: sql
  conn_id: shop_db
  query: |
    select * from orders
    {% if ds >= '2024-01-01' %}where updated_at >= {{ data_interval_start }}{% endif %}
"""
        + TAIL
        + 'checks:\n  - sql: "select * from {{ target }} where updated_at >= {{ data_interval_end }}"\n',
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert (rc, lines) == (0, [])


def test_a_typo_only_in_another_environment_is_found(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/env_tpl.yaml",
        HEAD.format(name="env_tpl")
        + "source: {type: sql, conn_id: shop_db, query: 'select * from t where d = {{ ds }}'}\n"
        + TAIL
        + "environments:\n  prod:\n    source: {query: 'select * from t where d = {{ dss }}'}\n",
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert len(lines) == 1 and lines[0].startswith("pipelines/env_tpl.yaml:9:51:") and "'dss'" in lines[0], lines
