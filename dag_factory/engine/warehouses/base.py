"""The warehouse interface: what the write-audit-publish flow asks of every target.

Every warehouse implements all of it (DuckDB, PostgreSQL, Redshift, Athena); what one cannot
do is declared in its `capabilities` (capabilities.py), which the flow asks instead of
checking classes. The shared SQL logic of the SQL warehouses lives in sql.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

import pyarrow as pa

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsResolver
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import LocalPartition, S3Partition
from dag_factory.engine.warehouses.types import TypeMapper

if TYPE_CHECKING:
    from dag_factory.engine.warehouses.capabilities import Capabilities

SNAPSHOT_COLUMN = "snapshot_date"

# What the stage step takes: rows streamed through the worker, or a published S3 lake
# partition the warehouse reads itself, or a local partition's files (capabilities.loads_from says which)
StageInput = Union[pa.RecordBatchReader, S3Partition, LocalPartition]  # noqa: UP007 - a runtime alias


DbapiFactory = Callable[[ConnInfo], Any]  # ConnInfo -> an open DB-API connection (Redshift under Airflow)


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    deleted: int
    changes: tuple[str, ...] = ()  # what publish changed in the target's columns (engine/schema_change.py)

    @property
    def summary(self) -> str:
        return "; ".join(self.changes)


class Warehouse(ABC):
    """A load target, as the write-audit-publish steps see it."""

    capabilities: ClassVar[Capabilities]
    placeholder: ClassVar[str] = "?"  # the driver's bound-parameter marker
    default_schema: ClassVar[str] = "main"

    @property
    def types(self) -> TypeMapper:
        return self.capabilities.types

    @staticmethod
    def escape_literal(sql_text: str) -> str:
        """Protect literal user SQL text for this driver's parameter syntax."""
        return sql_text

    @classmethod
    @abstractmethod
    def open(cls, conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> Warehouse:
        """Connect to the warehouse behind `conn`. `aws` turns an AWS connection into a boto3
        session, `dbapi` opens a DB-API connection; a warehouse uses the one it needs."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- write ---------------------------------------------------------------
    @abstractmethod
    def stage(self, target_table: str, load: Load, interval: Interval, data: StageInput) -> int:
        """Write the run's rows where publish takes them from (not yet visible); returns how many."""

    @abstractmethod
    def stage_query(self, target_table: str, interval: Interval, sql: str, params: list) -> int:
        """Write, inside the warehouse: a transform's SELECT becomes the staged rows (capabilities.runs_queries)."""

    @abstractmethod
    def staging_table(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        """(schema, name, quoted name) of the run's staging table."""

    # -- audit ---------------------------------------------------------------
    @abstractmethod
    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        """(name, catalog type) of a table in column order, or None if it does not exist."""

    @abstractmethod
    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of a query; used by checks."""

    # -- publish -------------------------------------------------------------
    @abstractmethod
    def publish(self, target_table: str, load: Load, interval: Interval, part: S3Partition | None = None) -> LoadResult:
        """Make the staged rows the target's, by load mode, all or nothing. `part` is the lake
        partition, given when capabilities.publishes_from_lake."""

    def load(self, target_table: str, load: Load, interval: Interval, data: StageInput) -> LoadResult:
        """Stage and publish in one go (no checks in between)."""
        self.stage(target_table, load, interval, data)
        return self.publish(target_table, load, interval, data if isinstance(data, S3Partition) else None)
