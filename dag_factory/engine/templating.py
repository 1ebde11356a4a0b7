"""Jinja for user SQL, with every value bound as a parameter.

Queries, query files and `sql:` checks may use Jinja (`{% if %}`, `{% for %}`) and
the run's values (`{{ ds }}`, `{{ data_interval_start }}`, `{{ data_interval_end }}`).
A value never becomes SQL text: it renders as a marker that is swapped for the
driver's placeholder, and the value goes to the bound parameters in order. Only
names the engine itself quotes (`{{ target }}` in checks) are pasted as text.
The sandbox keeps templates from reaching Python internals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from dag_factory.errors import EngineError

_MARK = "\x00{}\x00"
_MARK_RE = re.compile("\x00(\\d+)\x00")


class _Bound:
    """Renders as a marker (the engine binds the value there); compares as the value,
    so `{% if ds >= '2024-01-01' %}` works."""

    def __init__(self, index: int, value: Any) -> None:  # a date, text or number, compared as Jinja would
        self.index, self.value = index, value

    def __str__(self) -> str:
        return _MARK.format(self.index)

    __html__ = __str__

    def __eq__(self, other: object) -> bool:
        return self.value == other

    def __lt__(self, other: object) -> bool:
        return self.value < other

    def __le__(self, other: object) -> bool:
        return self.value <= other

    def __gt__(self, other: object) -> bool:
        return self.value > other

    def __ge__(self, other: object) -> bool:
        return self.value >= other

    def __hash__(self) -> int:
        return hash(self.value)


class TemplateRenderError(EngineError):
    """A template failed to compile or render; `line` is the line inside the template text
    (1-based, 0 when unknown), which the step boundary turns into a YAML or query-file line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def template_line(exc: BaseException) -> int:
    """The template line an error points at: Jinja puts it on syntax errors, and into the
    traceback (frames of the file '<template>') for errors raised while rendering."""
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int) and lineno > 0:
        return lineno
    line, tb = 0, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def sandbox() -> SandboxedEnvironment:
    """The environment user SQL renders in; lint parses with it, so it accepts what a run accepts."""
    return _env()


def render_sql(
    template: str,
    values: dict[str, object],
    placeholder: str,
    escape: Callable[[str], str] = lambda s: s,
    raw: dict[str, str] | None = None,
) -> tuple[str, list[object]]:
    """(SQL with placeholders, parameters in order). `escape` protects literal text
    (psycopg needs '%' doubled); `raw` holds already-quoted SQL names."""
    names = list(values)
    context: dict[str, object] = {name: _Bound(i, values[name]) for i, name in enumerate(names)}
    context.update(raw or {})
    try:
        text = _env().from_string(template).render(context)
    except (TemplateError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: the sandbox's range() limit
        available = ", ".join(sorted([*values, *(raw or {})]))
        raise TemplateRenderError(f"SQL template error: {exc} (available: {available})", template_line(exc)) from None
    params: list[object] = []
    out: list[str] = []
    pos = 0
    for m in _MARK_RE.finditer(text):
        out.append(escape(text[pos : m.start()]))
        out.append(placeholder)
        params.append(values[names[int(m.group(1))]])
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out), params
