"""Config for checks, alerts, `after:` dependencies and query files: typed objects,
cross-file rules (names exist, no cycles, one pipeline per target) and their messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dag_factory.cli.lint import lint_command
from dag_factory.config.loader import load_pipelines
from dag_factory.config.model import AlertChannel
from tests.config.helpers import pipeline_yaml, problem_lines, write

REPO = Path(__file__).resolve().parents[2]


def test_example_checks_alerts_and_after_are_typed():
    result = load_pipelines(REPO / "pipelines")
    assert not result.errors, result.problems
    orders = result.pipelines["shop_orders"]
    assert [c.name for c in orders.checks] == [
        "row_count",
        "not_null",
        "unique",
        "accepted_values_status",
        "freshness_updated_at",
        "sql_1",
    ]
    assert orders.checks[0].min == 1 and orders.checks[1].columns == ("id", "customer_id")
    assert orders.checks[3].values == ("paid", "refunded", "cancelled")
    assert orders.checks[4].max_age == timedelta(days=1)
    assert orders.alerts.on_failure == (AlertChannel("slack", conn_id="slack_alerts"),)
    assert orders.alerts.deadline == timedelta(hours=2)
    report = result.pipelines["daily_sales_report"]
    assert report.after == ("shop_orders", "shop_customers") and report.schedule is None
    assert report.in_warehouse and "from analytics.orders as o" in (report.source.query or "")
    assert report.source.query_file and report.source.query_file.endswith("pipelines/sql/daily_sales.sql")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pipelines"
    for name, text in files.items():
        write(root / name, text)
    return root


def test_after_must_name_an_existing_pipeline(tmp_path, capsys, monkeypatch):
    _tree(
        tmp_path,
        {
            "up_one.yaml": pipeline_yaml("up_one"),
            "down_one.yaml": pipeline_yaml("down_one").replace("schedule: '@daily'", "schedule: {after: [up_one, up_onw]}"),
        },
    )
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    (line,) = problem_lines(capsys.readouterr().out)
    assert line == "pipelines/down_one.yaml:3:28: after: no pipeline named 'up_onw' [schedule.after] (did you mean 'up_one'?)"


def test_after_cycles_are_reported_on_every_member(tmp_path, capsys, monkeypatch):
    _tree(
        tmp_path,
        {
            "aaa.yaml": pipeline_yaml("aaa").replace("schedule: '@daily'", "schedule: {after: [bbb]}"),
            "bbb.yaml": pipeline_yaml("bbb").replace("schedule: '@daily'", "schedule: {after: [aaa]}"),
            "ccc.yaml": pipeline_yaml("ccc").replace("schedule: '@daily'", "schedule: {after: [ccc]}"),
        },
    )
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    out = capsys.readouterr().out
    assert "pipelines/aaa.yaml:3:19: after: dependencies form a cycle: aaa -> bbb -> aaa" in out
    assert "pipelines/bbb.yaml:3:19: after: dependencies form a cycle: aaa -> bbb -> aaa" in out
    assert "pipelines/ccc.yaml:3:19: pipeline 'ccc' cannot run after itself" in out


def test_two_pipelines_cannot_load_one_target(tmp_path, capsys, monkeypatch):
    _tree(
        tmp_path,
        {
            "first_one.yaml": pipeline_yaml("first_one"),
            "second_one.yaml": pipeline_yaml("second_one").replace("analytics.second_one", "analytics.first_one"),
        },
    )
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    (line,) = problem_lines(capsys.readouterr().out)
    assert line.startswith(
        "pipelines/second_one.yaml:12:10: target warehouse:analytics.first_one is already loaded by pipeline 'first_one'"
    )


def test_query_file_must_exist_and_stay_inside_pipelines(tmp_path, capsys, monkeypatch):
    base = pipeline_yaml("qf_one").replace("  table: orders\n", "  query_file: sql/missing.sql\n")
    escape = pipeline_yaml("qf_two").replace("  table: orders\n", "  query_file: ../outside.sql\n")
    _tree(tmp_path, {"qf_one.yaml": base, "qf_two.yaml": escape})
    (tmp_path / "outside.sql").write_text("select 1")
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    out = capsys.readouterr().out
    assert "pipelines/qf_one.yaml:7:15: query_file 'sql/missing.sql' does not exist" in out
    assert "pipelines/qf_two.yaml:7:15: '../outside.sql' is not valid: expected a relative path to a .sql file" in out


def test_check_and_alert_typos_are_explained(tmp_path, capsys, monkeypatch):
    extra = """
    checks:
      - not_nul: [id]
      - row_count: {min: 1}
        unique: [id]
    alerts:
      on_failure: [{slak: alerts}]
      deadline: 2 hours
    """
    _tree(tmp_path, {"typo_one.yaml": pipeline_yaml("typo_one", extra=extra)})
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    lines = problem_lines(capsys.readouterr().out)
    assert "pipelines/typo_one.yaml:14:5: unknown key 'not_nul' [checks.0.not_nul] (did you mean 'not_null'?)" in lines
    assert any(
        line.startswith(
            "pipelines/typo_one.yaml:15:5: needs exactly one of: accepted_values, freshness, not_null, row_count, sql, unique"
        )
        for line in lines
    )
    assert "pipelines/typo_one.yaml:18:17: unknown key 'slak' [alerts.on_failure.0.slak] (did you mean 'slack'?)" in lines
    assert any(line.startswith("pipelines/typo_one.yaml:19:13: '2 hours' is not valid: expected a duration") for line in lines)
