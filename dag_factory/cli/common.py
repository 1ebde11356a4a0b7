"""Shared CLI helpers: finding a pipeline by name and printing config errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dag_factory.config.loader import discover, load_pipelines
from dag_factory.config.model import Pipeline


def pipelines_dir(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("DAG_FACTORY_PIPELINES") or "pipelines")


def find_pipeline(name: str, root: Path, env: str | None) -> Pipeline | None:
    """Load the pipeline called `name` (file stem == name), printing its problems if invalid."""
    paths = [p for p in discover(root) if p.stem == name]
    if not paths:
        known = ", ".join(sorted(p.stem for p in discover(root))) or "none"
        print(f"dag-factory: no pipeline {name!r} under {root}/ (found: {known})", file=sys.stderr)
        return None
    result = load_pipelines(root, env, paths)
    for problem in result.problems:
        print(problem.format(), file=sys.stderr)
    return result.pipelines.get(name)


def display(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
