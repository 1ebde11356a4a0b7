"""Typed pipeline objects: what every layer past the config boundary works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

LoadMode = Literal["incremental", "snapshot", "full_refresh", "history"]
SchemaChangePolicy = Literal["append_new_columns", "sync_all_columns", "fail", "ignore"]
CheckKind = Literal["row_count", "not_null", "unique", "accepted_values", "freshness", "sql"]


@dataclass(frozen=True)
class Parallel:
    """Extract in `parts` ranges of `column`, one mapped task each (docs/load-types.md)."""

    column: str
    parts: int


@dataclass(frozen=True)
class SqlSource:
    conn_id: str
    table: str | None = None  # "schema.table" or "table"; validated identifier
    query: str | None = None  # a SELECT (inline or read from query_file); Jinja, values bound as params
    query_file: str | None = None  # where `query` came from, relative to the pipelines root (for docs)
    columns: tuple[str, ...] | None = None  # projection; None = all columns
    batch_size: int = 50_000
    parallel: Parallel | None = None  # extract in ranges of a column, one task per range
    type: Literal["sql"] = "sql"

    @property
    def label(self) -> str:
        return self.table or ("query file" if self.query_file else "query")


@dataclass(frozen=True)
class Pagination:
    """How an HTTP source walks pages (docs/sources.md)."""

    type: Literal["none", "page_number", "cursor", "next_link"] = "none"
    page_param: str = "page"  # page_number: the query parameter holding the page number
    start_page: int = 1  # page_number: the first page's number
    size_param: str | None = None  # page_number: query parameter for the page size (sent when page_size is set)
    page_size: int | None = None  # page_number: records per page; a shorter page is the last
    cursor_param: str = "cursor"  # cursor: the query parameter the next token is sent in
    cursor_path: str = ""  # cursor: dot path of the next token in the response body
    next_link_path: str | None = None  # next_link: dot path of the next URL in the body (None: the Link header)
    max_pages: int = 10_000  # a safety stop: more pages than this fails the run


@dataclass(frozen=True)
class HttpSource:
    """A JSON REST API behind an Airflow HTTP connection."""

    conn_id: str
    endpoint: str  # path under the connection's base URL, e.g. /v1/orders
    params: tuple[tuple[str, str], ...] = ()  # query parameters; values are Jinja templates
    records_path: str = ""  # dot path of the list of records in the body ("" = the body is the list)
    pagination: Pagination = field(default_factory=Pagination)
    fields: tuple[tuple[str, str], ...] = ()  # optional declared field types (name, type); () = inferred
    method: Literal["GET"] = "GET"
    batch_size: int = 50_000
    type: Literal["http"] = "http"

    @property
    def label(self) -> str:
        return self.endpoint


@dataclass(frozen=True)
class Wait:
    """A file source's sensor: wait for a matching file before extracting."""

    timeout: timedelta = timedelta(hours=1)
    poke_interval: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class FileSource:
    """Files (CSV, JSON lines, Parquet) in a folder or bucket, the path templated by the interval."""

    conn_id: str
    path: str  # relative glob under the connection's root, e.g. exports/{{ ds }}/*.csv
    format: Literal["csv", "jsonl", "parquet"]
    wait: Wait | None = None
    fields: tuple[tuple[str, str], ...] = ()  # optional declared column types (name, type)
    batch_size: int = 50_000
    type: Literal["file"] = "file"

    @property
    def label(self) -> str:
        return self.path


# A tagged union on `type`: each member carries only its own keys, so code that needs a
# table or query narrows first (`isinstance(s, SqlSource)` or `s.type == "sql"`).
Source = SqlSource | HttpSource | FileSource


@dataclass(frozen=True)
class Load:
    mode: LoadMode
    cursor: str | None = None  # incremental: rows with start <= cursor < end
    primary_key: tuple[str, ...] = ()  # incremental: merge on these columns; history: one version per key
    lookback: timedelta = timedelta(0)  # incremental: also re-read [start - lookback, start) for late rows
    hard_delete: str | None = None  # incremental with a key: a row with this column true / not NULL removes its key
    compare: tuple[str, ...] = ()  # history: columns whose change opens a version (() = all non-key columns)
    on_schema_change: SchemaChangePolicy = "append_new_columns"  # docs/schema-changes.md


@dataclass(frozen=True)
class Lake:
    conn_id: str
    path: str  # relative path under the lake root; partitions are <path>/ds=YYYY-MM-DD/


@dataclass(frozen=True)
class Target:
    conn_id: str
    table: str  # "schema.table" or "table"


@dataclass(frozen=True)
class Check:
    """One data-quality check on a run's staged rows; `name` is its task id."""

    kind: CheckKind
    name: str
    columns: tuple[str, ...] = ()  # not_null, unique, accepted_values/freshness (one column)
    min: int | None = None  # row_count
    max: int | None = None
    values: tuple[str | int | float | bool, ...] = ()  # accepted_values
    max_age: timedelta | None = None  # freshness
    sql: str | None = None  # sql: returns the offending rows

    def describe(self) -> str:
        if self.kind == "row_count":
            bounds = [f">= {self.min}" if self.min is not None else "", f"<= {self.max}" if self.max is not None else ""]
            return "row count " + " and ".join(b for b in bounds if b)
        if self.kind in ("not_null", "unique"):
            return f"{self.kind.replace('_', ' ')}: {', '.join(self.columns)}"
        if self.kind == "accepted_values":
            return f"{self.columns[0]} in ({', '.join(map(str, self.values))})"
        if self.kind == "freshness":
            return f"newest {self.columns[0]} at most {self.max_age} before the interval end"
        return f"sql returns no rows: {' '.join((self.sql or '').split())[:80]}"


@dataclass(frozen=True)
class AlertChannel:
    kind: Literal["slack", "teams", "email"]
    conn_id: str | None = None  # slack, teams
    addresses: tuple[str, ...] = ()  # email


@dataclass(frozen=True)
class Alerts:
    on_failure: tuple[AlertChannel, ...] = ()
    on_success: tuple[AlertChannel, ...] = ()
    deadline: timedelta | None = None


@dataclass(frozen=True)
class Pipeline:
    name: str
    source: Source
    load: Load
    target: Target
    lake: Lake | None = None
    description: str = ""
    owner: str = "airflow"
    tags: tuple[str, ...] = ()
    schedule: str | None = "@daily"  # cron, preset, or None for manual only (or when `after` is set)
    after: tuple[str, ...] = ()  # upstream pipelines: an asset schedule instead of a cron
    timezone: str = "UTC"
    start_date: date = date(2024, 1, 1)
    end_date: date | None = None
    catchup: bool = False
    max_active_runs: int = 1
    retries: int = 2
    retry_delay: timedelta = timedelta(minutes=5)
    timeout: timedelta = timedelta(hours=1)
    checks: tuple[Check, ...] = ()
    alerts: Alerts = field(default_factory=Alerts)
    path: str = ""  # the YAML file it came from
    env: str = "local"
    resolved: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def in_warehouse(self) -> bool:
        """A transform: the source query runs where the target lives, no data via the worker."""
        return self.source.type == "sql" and self.source.conn_id == self.target.conn_id
