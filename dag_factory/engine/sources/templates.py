"""Interval templates in URL parameters and file paths: rendered to text, never SQL.

(SQL templates are bound as parameters instead: dag_factory.engine.templating.)
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from jinja2.sandbox import SandboxedEnvironment

from dag_factory.config.schedules import Interval
from dag_factory.errors import EngineError


class _IsoDatetime(datetime):
    """Renders as ISO 8601 (`2024-03-01T00:00:00+00:00`), the form APIs and paths expect."""

    def __str__(self) -> str:
        return self.isoformat()


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def template_context(interval: Interval) -> dict[str, object]:
    start, end = interval.start_utc, interval.end_utc
    return {
        "ds": interval.ds,
        "ds_nodash": interval.ds.replace("-", ""),
        "data_interval_start": _IsoDatetime.fromisoformat(start.isoformat()),
        "data_interval_end": _IsoDatetime.fromisoformat(end.isoformat()),
    }


def render_text(template: str, interval: Interval, what: str) -> str:
    """A URL parameter or path template rendered for the interval (sandboxed Jinja)."""
    if "{" not in template:
        return template
    from jinja2 import TemplateError

    try:
        return _env().from_string(template).render(template_context(interval))
    except (TemplateError, TypeError, ValueError) as exc:
        raise EngineError(
            f"{what}: template error: {exc} (available: ds, ds_nodash, data_interval_start, data_interval_end)"
        ) from None
