"""`dag-factory lint` as a command: clean example set, output formats, exit codes, many problems."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from dag_factory.cli import main
from dag_factory.cli.lint import format_github, lint_command
from dag_factory.config.validate import schema_problems
from dag_factory.errors import Problem
from tests.config.helpers import BROKEN, REPO, pipeline_yaml, problem_lines, write

GITHUB = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+)(?:,title=[^:]*)?::(?P<msg>.+)$")


def test_example_pipelines_lint_clean(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    rc = lint_command(["pipelines"])
    out, err = capsys.readouterr()
    assert rc == 0, out
    assert out.strip() == "4 pipeline files checked: 4 valid, 0 invalid, 0 problems"
    assert err == ""


def test_default_path_is_pipelines_folder(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["lint"]) == 0
    assert "4 pipeline files checked: 4 valid" in capsys.readouterr().out


@pytest.mark.parametrize("env", ["local", "prod", "staging"])
def test_example_pipelines_lint_clean_in_every_environment(env, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert lint_command(["pipelines"], env=env) == 0, capsys.readouterr().out


def test_example_pipelines_lint_clean_as_single_files(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "pipelines").glob("[!_]*.yaml"))
    assert len(files) == 4
    assert lint_command(files) == 0, capsys.readouterr().out


def test_example_pipelines_lint_clean_via_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", "lint", "pipelines"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 valid, 0 invalid" in proc.stdout


def test_github_format(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    rel = str((BROKEN / "unknown_nested_key.yaml").relative_to(REPO))
    rc = main(["lint", "--format", "github", rel])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 2
    parsed = [GITHUB.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m["file"], m["line"], m["col"]) for m in parsed] == [(rel, "9", "1"), (rel, "11", "3")]
    assert parsed[1]["msg"] == "unknown key 'curser' (did you mean 'cursor'?)"
    # the summary goes to stderr so stdout holds only workflow commands
    assert "1 pipeline file checked: 0 valid, 1 invalid, 2 problems" in err


def test_github_format_escapes_newlines_and_percent():
    line = format_github(Problem("p/x.yaml", 3, 4, "100% bad\nsecond line\r"))
    m = GITHUB.match(line)
    assert m and m["msg"] == "100%25 bad%0Asecond line%0D"
    assert "\n" not in line


def test_github_format_clean_run_prints_nothing_on_stdout(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["lint", "--format", "github", "pipelines"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "4 valid" in err


def test_missing_path_exits_2(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    rc = lint_command(["pipelines/does_not_exist.yaml"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert "no such file or folder: pipelines/does_not_exist.yaml" in err


def test_missing_path_among_good_ones_still_exits_2(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert lint_command(["pipelines", "nope/"]) == 2
    assert "nope/" in capsys.readouterr().err


def test_missing_path_exits_2_via_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", "lint", "no_such_dir"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "no such file or folder: no_such_dir" in proc.stderr
    assert "Traceback" not in proc.stderr


MULTI = """\
version: 1
name: multi_error
schedule: "0 3 * *"
timezone: Mars/Olympus
owner: data-eng
retries: lots
source:
  type: sql
  conn_id: shop_db
  table: "orders; drop table x"
load:
  mode: incremental
  curser: updated_at
target:
  conn_id: warehouse
  tabel: analytics.orders
retry_delay: 5 minutes
"""

MULTI_EXPECTED = [
    (3, 11, "cron expression '0 3 * *' must have 5 fields"),
    (4, 11, "unknown timezone 'Mars/Olympus'"),
    (6, 10, "expected an integer, got 'lots'"),
    (10, 10, "'orders; drop table x' is not valid"),
    (11, 1, "incremental loads need 'cursor'"),
    (13, 3, "unknown key 'curser'"),
    (14, 1, "missing required key 'table' [target]"),
    (16, 3, "unknown key 'tabel' [target.tabel] (did you mean 'table'?)"),
    (17, 14, "'5 minutes' is not valid"),
]


def test_every_problem_of_a_file_is_reported(tmp_path, capsys, monkeypatch):
    write(tmp_path / "multi_error.yaml", MULTI)
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["multi_error.yaml"])
    out = capsys.readouterr().out
    assert rc == 1
    lines = problem_lines(out)
    assert len(lines) == len(MULTI_EXPECTED), "\n".join(lines)
    for (line, col, msg), got in zip(MULTI_EXPECTED, lines, strict=True):  # sorted by position
        assert got.startswith(f"multi_error.yaml:{line}:{col}: ") and msg in got, got
    assert f"1 pipeline file checked: 0 valid, 1 invalid, {len(MULTI_EXPECTED)} problems" in out


def test_yaml_level_problems_are_all_reported_together(tmp_path, capsys, monkeypatch):
    # duplicate keys and refused tags are collected in one pass, not one per run
    write(
        tmp_path / "yaml_level.yaml",
        pipeline_yaml("yaml_level") + "retries: 1\nretries: 2\ndescription: !!python/name:os.system\ntags: [a]\ntags: [b]\n",
    )
    monkeypatch.chdir(tmp_path)
    assert lint_command(["yaml_level.yaml"]) == 1
    lines = problem_lines(capsys.readouterr().out)
    assert [line.split(": ", 1)[0] for line in lines] == ["yaml_level.yaml:14:1", "yaml_level.yaml:15:14", "yaml_level.yaml:17:1"]
    assert "duplicate key 'retries' (first at line 13)" in lines[0]
    assert "duplicate key 'tags' (first at line 16)" in lines[2]


def test_one_bad_file_does_not_hide_the_others(tmp_path, capsys, monkeypatch):
    write(tmp_path / "good_one.yaml", pipeline_yaml("good_one"))
    write(tmp_path / "bad_one.yaml", pipeline_yaml("bad_one", extra="retries: many\n"))
    write(tmp_path / "bad_two.yaml", "version: 1\nname: bad_two\nsource: [\n")
    monkeypatch.chdir(tmp_path)
    assert lint_command(["."]) == 1
    out = capsys.readouterr().out
    assert "3 pipeline files checked: 1 valid, 2 invalid, 2 problems" in out
    assert "bad_one.yaml:13:10: expected an integer" in out
    assert "bad_two.yaml:" in out and "YAML syntax error" in out


def test_lint_of_an_empty_folder_is_clean(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert lint_command(["empty"]) == 0
    assert "0 pipeline files checked" in capsys.readouterr().out


# --- message quality and gaps found while writing these tests (fixed; kept as regressions) ---


def _pattern_message(patch: dict) -> str:
    data = {
        "version": 1,
        "name": "abc",
        "source": {"type": "sql", "conn_id": "x", "table": "t"},
        "load": {"mode": "snapshot"},
        "target": {"conn_id": "w", "table": "t"},
    }
    data.update(patch)
    problems = schema_problems(data, {}, "f.yaml")
    assert len(problems) == 1, problems
    return problems[0].message


def test_name_pattern_error_says_the_rule():
    assert "lower-case" in _pattern_message({"name": "Shop_Orders"}).lower()


def test_lake_path_pattern_error_is_not_cut_mid_sentence():
    message = _pattern_message({"lake": {"conn_id": "lake", "path": "/abs/raw"}})
    assert not message.rstrip().endswith("e.g"), message


def test_conn_id_pattern_error_says_which_characters_are_allowed():
    assert "letters" in _pattern_message({"target": {"conn_id": "postgres://u:p@h/db", "table": "t"}}).lower()


def test_typo_inside_an_inactive_environment_is_reported(tmp_path, capsys, monkeypatch):
    write(
        tmp_path / "env_typo.yaml",
        pipeline_yaml("env_typo", extra="environments:\n  prod:\n    target:\n      conn_idd: redshift\n"),
    )
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["env_typo.yaml"])  # default env: local
    out = capsys.readouterr().out
    assert rc == 1
    assert "env_typo.yaml:16:7: unknown key 'conn_idd'" in out


def test_typo_in_a_defaults_environment_block_is_reported(tmp_path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "environments:\n  prod:\n    retriess: 3\n")
    write(root / "env_defaults_typo.yaml", pipeline_yaml("env_defaults_typo"))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    assert "pipelines/_defaults.yaml:3:5: unknown key 'retriess'" in capsys.readouterr().out


def test_schedule_that_never_fires_is_reported(tmp_path, capsys, monkeypatch):
    write(tmp_path / "feb_30.yaml", pipeline_yaml("feb_30").replace("schedule: '@daily'", "schedule: '0 0 30 2 *'"))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["feb_30.yaml"]) == 1
    assert "feb_30.yaml:3:11: " in capsys.readouterr().out


def test_a_defaults_problem_is_reported_once(tmp_path, capsys, monkeypatch):
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "retries: many\n")
    for name in ("first_one", "second_one", "third_one"):
        write(root / f"{name}.yaml", pipeline_yaml(name))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    lines = problem_lines(capsys.readouterr().out)
    assert lines == ["pipelines/_defaults.yaml:1:10: expected an integer, got 'many' [retries]"]


def test_defaults_problem_is_located_in_the_defaults_file(tmp_path, capsys, monkeypatch):
    # the located part of the behaviour above is right today: every copy points at _defaults.yaml:1:10
    root = tmp_path / "pipelines"
    write(root / "_defaults.yaml", "retries: many\n")
    write(root / "only_one.yaml", pipeline_yaml("only_one"))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["pipelines"]) == 1
    assert problem_lines(capsys.readouterr().out) == ["pipelines/_defaults.yaml:1:10: expected an integer, got 'many' [retries]"]


def test_lint_accepts_absolute_paths_outside_cwd(tmp_path, capsys, monkeypatch):
    path = write(tmp_path / "outside" / "abs_path.yaml", pipeline_yaml("abs_path", extra="retries: many\n"))
    monkeypatch.chdir(REPO)
    assert lint_command([str(path)]) == 1
    assert problem_lines(capsys.readouterr().out)[0].startswith(f"{path}:13:10: ")
