"""Load semantics shared by every warehouse: stage, check, then one short transaction.

The modes (see Load): incremental replaces the interval's rows (and, with a
primary key, every staged key); snapshot replaces one `snapshot_date`;
full_refresh swaps in a complete new table. Dialects only supply SQL details.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.identifiers import quote_ident, split_table, validate_identifier
from dag_factory.errors import EngineError

SNAPSHOT_COLUMN = "snapshot_date"


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    deleted: int


def _token() -> str:
    return uuid.uuid4().hex[:16]


class Warehouse(ABC):
    """A SQL warehouse the engine can load Arrow data into."""

    placeholder = "?"
    default_schema = "main"
    date_type = "DATE"

    # -- dialect hooks ------------------------------------------------------
    @abstractmethod
    def sql_type(self, t: pa.DataType, column: str) -> str:
        """DDL type for an Arrow type (EngineError if unsupported)."""

    @abstractmethod
    def execute(self, sql: str, params: list | tuple = ()) -> int:
        """Run one statement; returns the affected row count (DML) or -1."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[object]:
        """Context manager: commit on success, roll back on error."""

    @abstractmethod
    def stage(self, reader: pa.RecordBatchReader, table_sql: str, columns: list[str]) -> int:
        """Copy the reader's rows into existing table `table_sql`; returns the row count."""

    @abstractmethod
    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        """(name, catalog type) of a table in column order, or None if it does not exist."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared logic -------------------------------------------------------
    def _table_sql(self, schema: str | None, table: str) -> str:
        return f"{quote_ident(schema or self.default_schema)}.{quote_ident(table)}"

    def _temp_sql(self, table: str) -> str:
        return quote_ident(table)

    def _cursor_bounds(self, load: Load, interval: Interval, schema: pa.Schema) -> tuple[str, list]:
        """The cursor predicate and its bound values, typed like the cursor column."""
        cursor = validate_identifier(load.cursor or "")
        if cursor not in schema.names:
            raise EngineError(f"cursor column {cursor!r} is not among the extracted columns {schema.names}")
        t = schema.field(cursor).type
        start, end = interval.start_utc, interval.end_utc
        if pa.types.is_timestamp(t) and t.tz is not None:
            params: list = [start, end]
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            # naive cursor values are UTC: compare with naive UTC bounds
            params = [start.replace(tzinfo=None), end.replace(tzinfo=None)]
        else:
            raise EngineError(
                f"cursor column {cursor!r} has type {t}; incremental loads need a timestamp or date "
                "cursor (declare it as TIMESTAMP/DATETIME/DATE in the source)"
            )
        c = quote_ident(cursor)
        p = self.placeholder
        return f"({c} >= {p} AND {c} < {p})", params

    def _check_columns(self, target: str, existing: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
        have, want = dict(existing), dict(expected)
        problems = []
        for name in want:
            if name not in have:
                problems.append(f"{name} (missing in target, staged as {want[name]})")
            elif have[name] != want[name]:
                problems.append(f"{name} (target {have[name]}, staged {want[name]})")
        for name in have:
            if name not in want:
                problems.append(f"{name} (only in target, {have[name]})")
        if problems:
            raise EngineError(
                f"target table {target} does not match the extracted columns: "
                + "; ".join(problems)
                + ". Alter or drop the target (or use full_refresh); nothing was loaded."
            )

    def load(self, target_table: str, load: Load, interval: Interval, reader: pa.RecordBatchReader) -> LoadResult:
        """Load all rows of `reader` into `target_table` according to `load.mode`."""
        schema_name, table = split_table(target_table)
        arrow_schema = reader.schema
        names = [validate_identifier(f.name) for f in arrow_schema]
        ddl = [(n, self.sql_type(f.type, n)) for n, f in zip(names, arrow_schema, strict=True)]
        if load.mode == "snapshot" and SNAPSHOT_COLUMN in names:
            raise EngineError(f"snapshot load: the source already has a column named {SNAPSHOT_COLUMN!r}")
        for k in load.primary_key:
            if validate_identifier(k) not in names:
                raise EngineError(f"primary key column {k!r} is not among the extracted columns {names}")
        predicate, bounds = ("", [])
        if load.mode == "incremental":
            predicate, bounds = self._cursor_bounds(load, interval, arrow_schema)
        elif load.mode not in ("snapshot", "full_refresh"):
            raise EngineError(f"unknown load mode {load.mode!r}")
        if schema_name:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema_name)}")
        target_sql = self._table_sql(schema_name, table)
        col_list = ", ".join(quote_ident(n) for n in names)
        col_ddl = ", ".join(f"{quote_ident(n)} {t}" for n, t in ddl)

        if load.mode == "full_refresh":
            return self._full_refresh(schema_name, table, target_sql, col_ddl, names, reader)

        stg = f"_dagf_stg_{_token()}"
        stg_sql = self._temp_sql(stg)
        self.execute(f"CREATE TEMP TABLE {stg_sql} ({col_ddl})")
        try:
            inserted = self.stage(reader, stg_sql, names)
            expected = list(self.columns(None, stg, temp=True) or [])
            target_ddl = col_ddl
            if load.mode == "snapshot":
                expected.append((SNAPSHOT_COLUMN, self.date_type))
                target_ddl += f", {quote_ident(SNAPSHOT_COLUMN)} DATE"
            existing = self.columns(schema_name, table)
            if existing is not None:
                self._check_columns(f"{schema_name or self.default_schema}.{table}", existing, expected)
            p = self.placeholder
            with self.transaction():
                if existing is None:
                    self.execute(f"CREATE TABLE IF NOT EXISTS {target_sql} ({target_ddl})")
                if load.mode == "snapshot":
                    ds = date.fromisoformat(interval.ds)
                    deleted = self.execute(f"DELETE FROM {target_sql} WHERE {quote_ident(SNAPSHOT_COLUMN)} = {p}", [ds])
                    self.execute(
                        f"INSERT INTO {target_sql} ({col_list}, {quote_ident(SNAPSHOT_COLUMN)}) "
                        f"SELECT {col_list}, CAST({p} AS DATE) FROM {stg_sql}",
                        [ds],
                    )
                else:
                    where = predicate
                    if load.primary_key:
                        match = " AND ".join(f"s.{quote_ident(k)} = t.{quote_ident(k)}" for k in load.primary_key)
                        where = f"{predicate} OR EXISTS (SELECT 1 FROM {stg_sql} AS s WHERE {match})"
                    deleted = self.execute(f"DELETE FROM {target_sql} AS t WHERE {where}", bounds)
                    self.execute(f"INSERT INTO {target_sql} ({col_list}) SELECT {col_list} FROM {stg_sql}")
        finally:
            self.execute(f"DROP TABLE IF EXISTS {stg_sql}")
        return LoadResult(inserted=inserted, deleted=deleted)

    def _full_refresh(
        self,
        schema_name: str | None,
        table: str,
        target_sql: str,
        col_ddl: str,
        names: list[str],
        reader: pa.RecordBatchReader,
    ) -> LoadResult:
        """Build the new table beside the old one, then swap names in one transaction."""
        token = _token()
        new, old = f"_dagf_new_{token}", f"_dagf_old_{token}"
        new_sql, old_sql = self._table_sql(schema_name, new), self._table_sql(schema_name, old)
        self.execute(f"CREATE TABLE {new_sql} ({col_ddl})")
        swapped = False
        try:
            inserted = self.stage(reader, new_sql, names)
            deleted = 0
            with self.transaction():
                if self.columns(schema_name, table) is not None:
                    deleted = self.count(target_sql)
                    self.execute(f"ALTER TABLE {target_sql} RENAME TO {quote_ident(old)}")
                    self.execute(f"ALTER TABLE {new_sql} RENAME TO {quote_ident(table)}")
                    self.execute(f"DROP TABLE {old_sql}")
                else:
                    self.execute(f"ALTER TABLE {new_sql} RENAME TO {quote_ident(table)}")
            swapped = True
        finally:
            if not swapped:
                self.execute(f"DROP TABLE IF EXISTS {new_sql}")
        return LoadResult(inserted=inserted, deleted=deleted)

    @abstractmethod
    def count(self, table_sql: str) -> int: ...
