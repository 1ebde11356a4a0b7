"""Lint renders every template a run will render, so a typo fails here and not at 3 a.m.

`{{ data_interval_strt }}` in a query parses as Jinja and only fails when a run renders it,
naming no file. Here each template (source.query, its query_file, `sql:` checks, http
params, file paths) is compiled by the engine's own sandbox and rendered with the values
of the pipeline's first run; a problem is reported at the template's file and line (the
line inside a query file too) with the closest known name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta, nodes

from dag_factory.config.model import FileSource, HttpSource, Pipeline, SqlSource
from dag_factory.config.schedules import Interval, interval_for_date
from dag_factory.config.yaml_loader import VALUE, KeyPath, Mark, nearest_mark
from dag_factory.engine.sources.base import template_values
from dag_factory.engine.sources.templates import render_text, template_context
from dag_factory.engine.templating import render_sql, sandbox
from dag_factory.errors import EngineError, Problem


@dataclass(frozen=True)
class _Template:
    text: str
    what: str  # the key path, e.g. "checks[1].sql"
    names: frozenset[str]  # what the template may use
    sql: bool  # rendered by render_sql (values bound) or render_text (values pasted)
    path: KeyPath  # where the value is written in the YAML
    file: str | None = None  # a query file: lines are counted in it


def template_problems(pipeline: Pipeline, marks: dict[KeyPath, Mark]) -> list[Problem]:
    """Every template of the pipeline that would fail to render, located."""
    interval = interval_for_date(pipeline.schedule, pipeline.timezone, pipeline.start_date)
    sql_values = template_values(interval)
    out: list[Problem] = []
    for t in _templates(pipeline, frozenset(sql_values), frozenset(template_context(interval))):
        if "{" not in t.text:
            continue
        found = _static_problem(t)
        if found is None:
            found = _render_problem(t, sql_values, interval)
        if found is not None:
            line, name, message, hint = found
            out.append(_locate(t, marks, pipeline.path, line, name, message, hint))
    return out


def has_templates(pipeline: Pipeline) -> bool:
    """Cheap pre-check: most pipelines have no template, and lint stays fast for them."""
    return any("{" in t.text for t in _templates(pipeline, frozenset(), frozenset()))


def _templates(pipeline: Pipeline, sql_names: frozenset[str], text_names: frozenset[str]) -> list[_Template]:
    src = pipeline.source
    out = []
    if isinstance(src, SqlSource) and src.query:
        out.append(_Template(src.query, "source.query", sql_names, True, ("source", "query", VALUE), src.query_file))
    if isinstance(src, HttpSource):
        for key, value in src.params:
            out.append(_Template(value, f"source.params.{key}", text_names, False, ("source", "params", key, VALUE)))
    if isinstance(src, FileSource):
        out.append(_Template(src.path, "source.path", text_names, False, ("source", "path", VALUE)))
    for i, check in enumerate(pipeline.checks):
        if check.kind == "sql" and check.sql:
            names = sql_names | {"target"}
            out.append(_Template(check.sql, f"checks[{i}].sql", names, True, ("checks", i, "sql", VALUE)))
    return out


def _static_problem(t: _Template) -> tuple[int, str, str, str] | None:
    """(line in the template, name, message, hint) for a syntax error or an unknown name."""
    try:
        tree = sandbox().parse(t.text)
        sandbox().compile(tree)  # unknown filters and tests fail here, not in parse()
    except TemplateSyntaxError as exc:
        return exc.lineno or 1, "", f"{t.what}: template syntax error: {exc.message}", ""
    unknown = sorted(meta.find_undeclared_variables(tree) - t.names)
    if not unknown:
        return None
    name = unknown[0]
    line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
    close = difflib.get_close_matches(name, sorted(t.names), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else ""
    available = ", ".join(sorted(t.names))
    return line, name, f"{t.what}: unknown template variable {name!r} (available: {available})", hint


def _render_problem(t: _Template, sql_values: dict[str, object], interval: Interval) -> tuple[int, str, str, str] | None:
    """Render as the run will (filters on values, sandbox limits): what parsing cannot see."""
    try:
        if t.sql:
            render_sql(t.text, sql_values, "?", raw={"target": '"target"'} if "target" in t.names else None)
        else:
            render_text(t.text, interval, t.what)
    except EngineError as exc:
        message = str(exc)
        return 1, "", message if message.startswith(t.what) else f"{t.what}: {message}", ""
    return None


def _locate(t: _Template, marks: dict[KeyPath, Mark], default: str, line: int, name: str, message: str, hint: str) -> Problem:
    """The problem at the template's own line: in the query file, or in the YAML value."""
    if t.file:
        text_line = _line_of(Path(t.file), line)
        return Problem(t.file, line, _column(text_line, name), message, t.what, hint)
    mark = nearest_mark(marks, t.path) or Mark(default, 1, 1)
    first = _line_of(Path(mark.file), mark.line)
    block = first[mark.column - 1 : mark.column].strip() in ("|", ">")  # `query: |`: text starts on the next line
    file_line = mark.line + line if block else mark.line + line - 1
    text_line = _line_of(Path(mark.file), file_line)
    column = _column(text_line, name) if name and name in text_line else (mark.column if file_line == mark.line else 1)
    return Problem(mark.file, file_line, column, message, t.what, hint)


def _line_of(path: Path, line: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _column(text: str, name: str) -> int:
    at = text.find(name) if name else -1
    return at + 1 if at >= 0 else 1
