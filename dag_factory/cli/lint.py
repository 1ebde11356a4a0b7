"""`dag-factory lint`: every problem as file:line:col, the line itself, and a caret."""

from __future__ import annotations

import sys
from pathlib import Path

from dag_factory.cli.lint_deep import deep_problems
from dag_factory.config.connections_file import FILE_NAME as CONNECTIONS_FILE
from dag_factory.config.connections_file import Declared, load_declared
from dag_factory.config.loader import discover, display_path, is_pipeline_file, load_pipelines
from dag_factory.errors import ConfigError, Problem

DEFAULT_ROOT = Path("pipelines")


def _root_of(path: Path) -> Path:
    """The pipelines root a file belongs to: its nearest ancestor named 'pipelines', else its folder."""
    for parent in path.resolve().parents:
        if parent.name == "pipelines":
            return parent
    return path.resolve().parent


def collect(paths: list[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, root) pairs to lint, and usage errors for paths that don't exist."""
    targets: list[tuple[Path, Path]] = []
    missing: list[str] = []
    for raw in paths or [str(DEFAULT_ROOT)]:
        p = Path(raw)
        if p.is_dir():
            root = p if p.name == "pipelines" or not _root_of(p / "x").name == "pipelines" else _root_of(p / "x")
            targets.extend((f, root) for f in discover(p))
        elif p.is_file():
            if is_pipeline_file(p):
                targets.append((p, _root_of(p)))
            else:
                print(
                    f"dag-factory lint: skipping {raw}: not a pipeline file (.yaml/.yml, not starting with '_')", file=sys.stderr
                )
        else:
            missing.append(raw)
    return targets, missing


def _source_line(problem: Problem) -> str:
    try:
        lines = Path(problem.file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    if not 0 < problem.line <= len(lines):
        return ""
    text = lines[problem.line - 1].replace("\t", " ")
    if len(text) > 160:  # keep the caret in view on very long lines
        cut = max(problem.column - 80, 0)
        text, problem = text[cut : cut + 160], Problem(problem.file, problem.line, problem.column - cut, problem.message)
    caret = " " * max(problem.column - 1, 0) + "^"
    gutter = f"{problem.line:>5} | "
    return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {caret}"


def format_text(problem: Problem) -> str:
    shown = _source_line(problem)
    return problem.format() + (f"\n{shown}" if shown else "")


def format_github(problem: Problem) -> str:
    message = problem.message + (f" ({problem.hint})" if problem.hint else "")
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error file={problem.file},line={problem.line},col={problem.column},title=dag-factory lint::{message}"


def lint_command(paths: list[str], fmt: str = "text", env: str | None = None) -> int:
    targets, missing = collect(paths)
    if missing:
        for m in missing:
            print(f"dag-factory lint: no such file or folder: {m}", file=sys.stderr)
        return 2
    by_root: dict[Path, list[Path]] = {}
    for f, root in targets:
        by_root.setdefault(root, []).append(f)
    problems: list[Problem] = []
    invalid = 0
    names: dict[str, str] = {}
    for root, files in by_root.items():
        try:
            declared = load_declared(root, display_path(root / CONNECTIONS_FILE))
        except ConfigError as exc:
            declared = Declared()
            invalid += 1
            problems.extend(exc.problems)
        result = load_pipelines(root, env, files, all_envs=True)
        invalid += len(result.errors)
        for problem in result.problems:  # a _defaults.yaml problem shows once, not once per pipeline
            if problem not in problems:
                problems.append(problem)
        for name, pipeline in list(result.pipelines.items()):
            found = deep_problems(pipeline, root, env, declared)
            if found:
                invalid += 1
                problems.extend(p for p in found if p not in problems)
                continue
            if name in names:  # same name under two different roots
                invalid += 1
                problems.append(Problem(pipeline.path, 1, 1, f"pipeline name {name!r} is already used by {names[name]}", "name"))
            names.setdefault(name, pipeline.path)
    formatter = format_github if fmt == "github" else format_text
    for problem in problems:
        print(formatter(problem))
    total = len(targets)
    summary = f"{total} pipeline file{'s' if total != 1 else ''} checked: {total - invalid} valid, {invalid} invalid, {len(problems)} problem{'s' if len(problems) != 1 else ''}"
    print(summary, file=sys.stderr if fmt == "github" else sys.stdout)
    return 1 if invalid else 0
