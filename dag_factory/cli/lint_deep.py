"""Lint's checks of a valid pipeline in each of its environments: templates rendered as a run
renders them (lint_templates) and the pipeline against its warehouse's capabilities
(lint_capabilities). Both need the engine, so they live here and not in config/."""

from __future__ import annotations

import os
from pathlib import Path

from dag_factory.config.connections_file import Declared
from dag_factory.config.loader import active_env, environment_names, load_located
from dag_factory.config.model import Pipeline
from dag_factory.errors import ConfigError, Problem


def deep_problems(pipeline: Pipeline, root: Path, env: str | None, declared: Declared) -> list[Problem]:
    from dag_factory.cli.lint_capabilities import capability_problems
    from dag_factory.cli.lint_templates import has_templates, template_problems

    templates = has_templates(pipeline)
    kinds_known = bool(declared.types) or any(k.startswith("AIRFLOW_CONN_") for k in os.environ)
    if not templates and not kinds_known:
        return []  # nothing to check: skip re-resolving every environment (lint stays fast)
    path = Path(pipeline.path)
    out: list[Problem] = []
    for name in sorted({env or active_env()} | environment_names(path, root)):
        try:
            resolved, marks = load_located(path, root, name)
        except ConfigError:
            continue  # reported by the other-environment check
        found = template_problems(resolved, marks) if templates else []
        found += capability_problems(resolved, marks, name, declared) if kinds_known else []
        out.extend(p for p in found if p not in out)
    return out
