"""`dag-factory diff [BASE_REF]`: what a change does to the DAGs, not to the YAML.

Loads `pipelines/` as it is at a git ref (files read with `git ls-tree` / `git cat-file`
into a temporary folder, so that ref's `_defaults.yaml` and query files apply) and as it is
in the working tree, both through the config layer, then reports pipelines added, removed,
renamed or moved, and changed - for each change the schedule, load type, source, target,
lake, tasks, checks, alerts and `after:` dependencies it touches. Invalid files on either
side are reported with their first error. Never imports Airflow.
"""

import sys
import tempfile
from pathlib import Path

from dag_factory.cli.diff_git import DiffError, base_commit, git, materialize
from dag_factory.cli.diff_render import render_markdown, render_text
from dag_factory.cli.diff_report import Report, build_report, load_side

__all__ = ["DiffError", "Report", "diff", "diff_command"]


def diff(base_ref: str | None, pipelines: Path, env: str | None = None) -> Report:
    from dag_factory.config.loader import active_env

    env = env or active_env()
    start = pipelines.resolve() if pipelines.exists() else pipelines.parent.resolve()
    try:
        top = Path(git(["rev-parse", "--show-toplevel"], start).decode().strip()).resolve()
    except DiffError:
        raise DiffError(f"{start} is not inside a git repository") from None
    try:
        prefix = pipelines.resolve().relative_to(top).as_posix()
    except ValueError:
        raise DiffError(f"{pipelines} is not inside the repository {top}") from None
    prefix = "" if prefix == "." else prefix
    commit, label = base_commit(base_ref, top)
    with tempfile.TemporaryDirectory(prefix="dagf-diff-") as tmp:
        materialize(commit, top, prefix, Path(tmp))
        base_root = Path(tmp) / prefix if prefix else Path(tmp)
        base = load_side(label, base_root, prefix, env)
    head = load_side("working tree", pipelines, prefix, env)
    return build_report(base, head, env)


def diff_command(base_ref: str | None, fmt: str = "text", pipelines: str | None = None, env: str | None = None) -> int:
    from dag_factory.cli.common import pipelines_dir

    try:
        report = diff(base_ref, pipelines_dir(pipelines), env)
    except DiffError as exc:
        print(f"dag-factory diff: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown(report) if fmt == "markdown" else render_text(report))
    return 0
