"""Every file in cases/broken/ is a realistic mistake; lint must point at it precisely.

Each case file states its expectation on its first line:
    # expect: <line>:<col>: <substring of the message>
and, when the current code gets it wrong, an `# xfail: <why>` second line.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from dag_factory.cli.lint import lint_command
from tests.config.helpers import BROKEN, REPO, Case, broken_cases, pipeline_yaml, problem_lines, read_case

CASES = broken_cases()
NAME_CASES = {"name_mismatch"}  # the file stem deliberately differs from `name:`
NOT_A_MAPPING = {"empty_file", "list_file"}


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.path.stem, marks=marks)


def _assert_reported(case: Case, rc: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    assert rc == 1, out + err
    prefix = f"{case.rel}:{case.line}:{case.column}: "
    lines = problem_lines(out)
    assert lines, out
    assert any(line.startswith(prefix) and case.message in line for line in lines), (
        f"expected a line starting {prefix!r} containing {case.message!r}; got:\n" + "\n".join(lines)
    )
    assert "1 pipeline file checked: 0 valid, 1 invalid" in out


def test_there_are_enough_distinct_cases():
    assert len(CASES) >= 20
    assert len({c.path.stem for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.path.stem not in NAME_CASES | NOT_A_MAPPING], ids=lambda c: c.path.stem)
def test_case_file_is_named_after_its_pipeline(case: Case):
    # a case must fail for its own reason, not because the name differs from the file
    assert f"\nname: {case.path.stem}\n" in case.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_broken_case(case: Case, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    rc = lint_command([case.rel])
    out, err = capsys.readouterr()
    _assert_reported(case, rc, out, err)


def _dag_factory() -> list[str]:
    script = Path(sys.executable).with_name("dag-factory")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dag_factory.cli"]


@pytest.mark.parametrize("stem", ["tab_indentation", "python_object_tag", "alias_bomb", "unknown_top_level_key", "bad_timezone"])
def test_broken_case_via_cli_subprocess(stem: str):
    case = read_case(BROKEN / f"{stem}.yaml")
    proc = subprocess.run([*_dag_factory(), "lint", case.rel], cwd=REPO, capture_output=True, text=True, timeout=60)
    _assert_reported(case, proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr == ""


def test_text_output_shows_the_line_and_a_caret(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    case = read_case(BROKEN / "wrong_type_retries.yaml")
    lint_command([case.rel])
    out = capsys.readouterr().out.splitlines()
    i = next(i for i, line in enumerate(out) if line.startswith(f"{case.rel}:{case.line}:"))
    assert out[i + 1] == f"{case.line:>5} | retries: many"
    caret = out[i + 2]
    assert caret.endswith("^")
    assert caret.index("^") == out[i + 1].index("many")


def test_alias_bomb_fails_fast(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    case = read_case(BROKEN / "alias_bomb.yaml")
    tracemalloc.start()
    try:
        rc = lint_command([case.rel])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert rc == 1
    assert "alias bomb" in out
    # refused before the aliases are expanded: a bounded, small amount of memory (not a timing)
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_python_tag_never_runs(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "pwned"
    path = tmp_path / "tagged.yaml"
    path.write_text(pipeline_yaml("tagged") + f'description: !!python/object/apply:os.system ["touch {marker}"]\n')
    monkeypatch.chdir(tmp_path)
    rc = lint_command([str(path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "tagged.yaml:13:14: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in out
    assert not marker.exists()


@pytest.mark.parametrize(
    "tag_line",
    [
        "description: !!python/name:os.system\n",
        "description: !!python/object/new:subprocess.Popen [[id]]\n",
        "description: !custom {a: 1}\n",
        "description: !!binary aGVsbG8=\n",
    ],
)
def test_other_tags_are_refused(tag_line: str, tmp_path, capsys, monkeypatch):
    path = tmp_path / "tagged.yaml"
    path.write_text(pipeline_yaml("tagged") + tag_line)
    monkeypatch.chdir(tmp_path)
    rc = lint_command([str(path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "tagged.yaml:13:14: YAML tag " in out and "is not allowed" in out
    assert "Traceback" not in out


def test_non_utf8_bytes(tmp_path, capsys, monkeypatch):
    path = tmp_path / "latin1.yaml"
    body = pipeline_yaml("latin1").encode() + b"description: caf\xe9 orders\n"
    path.write_bytes(body)
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["latin1.yaml"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "latin1.yaml:13:17: file is not valid UTF-8 (byte 0xe9)" in problem_lines(out)[0]
    assert "Traceback" not in out + err


def test_oversized_file_is_refused_before_parsing(tmp_path, capsys, monkeypatch):
    path = tmp_path / "huge.yaml"
    path.write_text(pipeline_yaml("huge") + "description: '" + "x" * 1_000_001 + "'\n")
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["huge.yaml"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "huge.yaml:1:1: file is " in out and "bytes; pipeline files are limited to 1000000" in out


def test_deeply_nested_document_is_an_error_not_a_crash(tmp_path, capsys, monkeypatch):
    path = tmp_path / "deep.yaml"
    path.write_text(pipeline_yaml("deep") + "description: " + "[" * 20_000 + "]" * 20_000 + "\n")
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["deep.yaml"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert problem_lines(out)[0].startswith("deep.yaml:13:")
    assert "Traceback" not in out + err


def test_utf8_bom_and_crlf_are_fine(tmp_path, capsys, monkeypatch):
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + pipeline_yaml("bom").encode())
    (tmp_path / "crlf.yaml").write_bytes(pipeline_yaml("crlf").replace("\n", "\r\n").encode())
    monkeypatch.chdir(tmp_path)
    rc = lint_command(["bom.yaml", "crlf.yaml"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 pipeline files checked: 2 valid, 0 invalid, 0 problems" in out


def test_crlf_file_reports_the_right_line_and_column(tmp_path, capsys, monkeypatch):
    text = pipeline_yaml("crlf_bad", extra="retries: many\n").replace("\n", "\r\n")
    (tmp_path / "crlf_bad.yaml").write_bytes(text.encode())
    monkeypatch.chdir(tmp_path)
    assert lint_command(["crlf_bad.yaml"]) == 1
    assert problem_lines(capsys.readouterr().out)[0].startswith("crlf_bad.yaml:13:10: expected an integer, got 'many'")


def test_yml_extension_is_a_pipeline_too(tmp_path, capsys, monkeypatch):
    (tmp_path / "short_ext.yml").write_text(pipeline_yaml("short_ext", extra="retries: many\n"))
    monkeypatch.chdir(tmp_path)
    assert lint_command(["."]) == 1
    assert "short_ext.yml:13:10: expected an integer" in capsys.readouterr().out


def test_cases_folder_is_never_picked_up_as_pipelines():
    # the broken cases live outside any folder named `pipelines`, so the example set stays clean
    assert "pipelines" not in BROKEN.relative_to(REPO).parts
    assert not (BROKEN / "_defaults.yaml").exists()
