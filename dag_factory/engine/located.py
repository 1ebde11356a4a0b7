"""Step boundaries: an error leaves a step carrying the pipeline, its YAML file, the step and,
when a template caused it, the line where that template is written (in the YAML, or inside
the query file), so `{{ data_interval_strt }}` fails as `orders.yaml:9 [source.query]: ...`
in `run` output, task logs and failure alerts instead of naming nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from dag_factory.config.model import Pipeline, SqlSource
from dag_factory.config.yaml_loader import VALUE, KeyPath, load_file
from dag_factory.engine.templating import TemplateRenderError
from dag_factory.errors import DagFactoryError, EngineError, StepLocation

SOURCE_QUERY: KeyPath = ("source", "query")


def check_sql(index: int) -> KeyPath:
    return ("checks", index, "sql")


@contextmanager
def step(pipeline: Pipeline, name: str, template: KeyPath | None = None) -> Iterator[None]:
    """Run one step; `template` is the key of the template the step renders (if any)."""
    try:
        yield
    except EngineError as exc:
        if exc.where is None:
            exc.located(where(pipeline, name, exc, template))
        raise
    except Exception as exc:  # broad on purpose: any other error (a driver's, Arrow's) keeps its
        # type and traceback and is re-raised; the note adds the location to the traceback the
        # task log and `run` print
        exc.add_note(f"in {where(pipeline, name, exc, None).format()}")
        raise


def where(pipeline: Pipeline, step_name: str, exc: BaseException, template: KeyPath | None) -> StepLocation:
    base = StepLocation(pipeline.name, pipeline.path, step_name)
    if not isinstance(exc, TemplateRenderError) or template is None:
        return base
    src = pipeline.source
    if template == SOURCE_QUERY:
        if not isinstance(src, SqlSource):  # an http/file source's own templates name their key themselves
            return base
        if src.query_file:
            return replace(base, at_file=src.query_file, line=exc.line, key_path="source.query_file")
    return replace(base, line=_yaml_line(pipeline, template, exc.line), key_path=_dotted(template))


def _yaml_line(pipeline: Pipeline, key: KeyPath, template_line: int) -> int:
    """The file line of line `template_line` of the template written at `key` (0: not found)."""
    if not pipeline.path:
        return 0
    try:
        doc = load_file(Path(pipeline.path), pipeline.path)
    except (DagFactoryError, OSError):  # moved or changed since the DAG was parsed: the file alone is still named
        return 0
    mark = doc.marks.get((*key, VALUE)) or doc.marks.get(("environments", pipeline.env, *key, VALUE))
    if mark is None:
        return 0
    if template_line <= 0:
        return mark.line
    first = doc.lines[mark.line - 1] if 0 < mark.line <= len(doc.lines) else ""
    block = first[mark.column - 1 : mark.column] in ("|", ">")  # `query: |`: the text starts on the next line
    return mark.line + template_line if block else mark.line + template_line - 1


def _dotted(key: KeyPath) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
