"""What every reader shares: the reader protocol, building the SELECT, query templates.

Sources differ in placeholder style and in how they compare the cursor, so the
dialect bits are passed in; the shape of the selection is decided once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from dag_factory.config.model import FileSource, HttpSource, Load, Source, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.identifiers import quote_ident, quote_table, validate_identifier
from dag_factory.engine.sources.raw import Raw
from dag_factory.engine.templating import render_sql
from dag_factory.errors import EngineError

S = TypeVar("S", SqlSource, HttpSource, FileSource)


class Reader(Protocol):
    """Reads one interval of a source; dag_factory.engine.normalize types what it returns."""

    def read(self, source: Source, load: Load, interval: Interval) -> Raw: ...

    # sql readers also take `part=` (a PartRange, engine/parallel.py) in read() and answer
    # column_range(source, load, interval, column) -> (min, max) for planning the parts

    def close(self) -> None: ...

    def __enter__(self) -> Reader: ...

    def __exit__(self, *exc: object) -> None: ...


def expect(source: Source, kind: type[S], reader: object) -> S:
    """The source config narrowed to the type this reader serves (open_source picks by type)."""
    if not isinstance(source, kind):
        raise EngineError(f"{type(reader).__name__} cannot read a {source.type} source")
    return source


def template_values(interval: Interval) -> dict[str, object]:
    """Values a query may reference as {{ name }}; they become bound parameters."""
    return {
        "data_interval_start": interval.start_utc,
        "data_interval_end": interval.end_utc,
        "ds": interval.ds,
    }


def template_values_names() -> tuple[str, ...]:
    return ("data_interval_start", "data_interval_end", "ds")


def render_query(
    query: str,
    values: dict[str, object],
    placeholder: str,
    escape: Callable[[str], str] = lambda s: s,
) -> tuple[str, list[object]]:
    """The source query rendered with Jinja; values become bound parameters."""
    return render_sql(query, values, placeholder, escape)


def base_select(source: SqlSource, query_sql: str | None = None) -> str:
    """SELECT over the table (with projection) or over the query as a subquery."""
    cols = "*"
    if source.columns:
        cols = ", ".join(quote_ident(c) for c in source.columns)
    if source.query is not None:
        q = (query_sql if query_sql is not None else source.query).strip().rstrip(";")
        return f"SELECT {cols} FROM ({q}) AS q"
    if not source.table:
        raise EngineError("source needs either 'table' or 'query'")
    return f"SELECT {cols} FROM {quote_table(source.table)}"


def cursor_column(load: Load) -> str | None:
    """The validated cursor column when the load reads one interval, else None."""
    if load.mode != "incremental":
        return None
    if not load.cursor:
        raise EngineError("incremental load needs a 'cursor' column")
    return validate_identifier(load.cursor)


def utc_naive_text(dt: datetime) -> str:
    """An aware datetime as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC (for SQLite)."""

    u = dt.astimezone(UTC).replace(tzinfo=None)
    return u.isoformat(sep=" ", timespec="microseconds" if u.microsecond else "seconds")
