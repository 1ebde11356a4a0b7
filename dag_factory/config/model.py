"""Typed pipeline objects: what every layer past the config boundary works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

LoadMode = Literal["incremental", "snapshot", "full_refresh"]


@dataclass(frozen=True)
class SqlSource:
    conn_id: str
    table: str | None = None  # "schema.table" or "table"; validated identifier
    query: str | None = None  # a SELECT; may use {{ data_interval_start }} etc. as bound params
    columns: tuple[str, ...] | None = None  # projection; None = all columns
    batch_size: int = 50_000
    type: Literal["sql"] = "sql"


@dataclass(frozen=True)
class Load:
    mode: LoadMode
    cursor: str | None = None  # incremental: rows with start <= cursor < end
    primary_key: tuple[str, ...] = ()  # incremental: merge on these columns


@dataclass(frozen=True)
class Lake:
    conn_id: str
    path: str  # relative path under the lake root; partitions are <path>/ds=YYYY-MM-DD/


@dataclass(frozen=True)
class Target:
    conn_id: str
    table: str  # "schema.table" or "table"


@dataclass(frozen=True)
class Pipeline:
    name: str
    source: SqlSource
    load: Load
    target: Target
    lake: Lake | None = None
    description: str = ""
    owner: str = "airflow"
    tags: tuple[str, ...] = ()
    schedule: str | None = "@daily"  # cron, preset, or None for manual only
    timezone: str = "UTC"
    start_date: date = date(2024, 1, 1)
    end_date: date | None = None
    catchup: bool = False
    max_active_runs: int = 1
    retries: int = 2
    retry_delay: timedelta = timedelta(minutes=5)
    timeout: timedelta = timedelta(hours=1)
    path: str = ""  # the YAML file it came from
    env: str = "local"
    resolved: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
