"""Load semantics shared by every warehouse: stage, check, then one short transaction.

The modes (see Load): incremental replaces the interval's rows (and, with a
primary key, every staged key); snapshot replaces one `snapshot_date`;
full_refresh swaps in a complete new table. Dialects only supply SQL details.
"""

from __future__ import annotations

import hashlib
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

    @staticmethod
    def escape_literal(sql_text: str) -> str:
        """Protect literal user SQL text for this driver's parameter syntax."""
        return sql_text

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

    def _serialize(self, name: str) -> None:  # noqa: B027 - a hook, empty by default
        """Inside a transaction: wait until no other loader holds `name` (a table or schema),
        so two runs at once act as one after the other. Default: nothing, for warehouses whose
        writers queue anyway (DuckDB's file lock); PostgreSQL takes an advisory lock."""

    def _create_schema(self, schema_name: str) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema_name)}")

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

    # -- write, audit, publish ---------------------------------------------
    def staging_table(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        """(schema, name, quoted name) of the run's staging table: beside the target, one per
        target and interval, so a re-run replaces its own stage and parallel intervals don't meet."""
        schema_name, table = split_table(target_table)
        when = interval.partition.replace("-", "").lower()
        name = f"_dagf_stage_{table}_{when}"
        if len(name) > 63:  # PostgreSQL's identifier limit
            name = f"_dagf_stage_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{when}"
        return schema_name, name, self._table_sql(schema_name, name)

    def _fresh_stage(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        schema_name, name, stage_sql = self.staging_table(target_table, interval)
        if schema_name:
            self._create_schema(schema_name)
        self.execute(f"DROP TABLE IF EXISTS {stage_sql}")
        return schema_name, name, stage_sql

    def stage_reader(self, target_table: str, load: Load, interval: Interval, reader: pa.RecordBatchReader) -> int:
        """Write: copy the extracted rows into the run's staging table (not yet visible)."""
        arrow_schema = reader.schema
        names = [validate_identifier(f.name) for f in arrow_schema]
        self._validate_columns(load, names)
        if load.mode == "incremental":
            self._cursor_bounds(load, interval, arrow_schema)  # fail before staging, with the Arrow type
        ddl = ", ".join(f"{quote_ident(n)} {self.sql_type(f.type, n)}" for n, f in zip(names, arrow_schema, strict=True))
        _, _, stage_sql = self._fresh_stage(target_table, interval)
        self.execute(f"CREATE TABLE {stage_sql} ({ddl})")
        return self.stage(reader, stage_sql, names)

    def stage_query(self, target_table: str, interval: Interval, sql: str, params: list) -> int:
        """Write, inside the warehouse: the transform's SELECT becomes the staging table."""
        _, _, stage_sql = self._fresh_stage(target_table, interval)
        self.execute(f"CREATE TABLE {stage_sql} AS {sql}", params)
        return self.count(stage_sql)

    def _validate_columns(self, load: Load, names: list[str]) -> None:
        if load.mode == "snapshot" and SNAPSHOT_COLUMN in names:
            raise EngineError(f"snapshot load: the source already has a column named {SNAPSHOT_COLUMN!r}")
        for k in load.primary_key:
            if validate_identifier(k) not in names:
                raise EngineError(f"primary key column {k!r} is not among the extracted columns {names}")
        if load.mode == "incremental" and validate_identifier(load.cursor or "") not in names:
            raise EngineError(f"cursor column {load.cursor!r} is not among the extracted columns {names}")
        if load.mode not in ("incremental", "snapshot", "full_refresh"):
            raise EngineError(f"unknown load mode {load.mode!r}")

    def publish(self, target_table: str, load: Load, interval: Interval) -> LoadResult:
        """Publish the staged rows into the target in one short transaction, by mode."""
        schema_name, table = split_table(target_table)
        _, stage, stage_sql = self.staging_table(target_table, interval)
        staged = self.columns(schema_name, stage)
        if staged is None:
            raise EngineError(f"nothing staged for {target_table} and {interval.ds}: run the stage step (load.stage) first")
        names = [n for n, _ in staged]
        self._validate_columns(load, names)
        target_sql = self._table_sql(schema_name, table)
        inserted = self.count(stage_sql)
        if load.mode == "full_refresh":
            return LoadResult(inserted=inserted, deleted=self._swap(schema_name, table, target_sql, stage, stage_sql))
        col_list = ", ".join(quote_ident(n) for n in names)
        expected = list(staged)
        create = f"CREATE TABLE {target_sql} AS SELECT {col_list} FROM {stage_sql} LIMIT 0"
        if load.mode == "snapshot":
            expected.append((SNAPSHOT_COLUMN, self.date_type))
            create = f"CREATE TABLE {target_sql} AS SELECT {col_list}, CAST(NULL AS DATE) AS {quote_ident(SNAPSHOT_COLUMN)} FROM {stage_sql} LIMIT 0"
        p = self.placeholder
        with self.transaction():
            # one publish per target at a time, and the target looked up under that lock: two
            # runs at once (max_active_runs > 1) must not both create it or interleave
            self._serialize(f"table {target_sql}")
            existing = self.columns(schema_name, table)
            if existing is not None:
                self._check_columns(f"{schema_name or self.default_schema}.{table}", existing, expected)
            if existing is None:
                self.execute(create)
            if load.mode == "snapshot":
                ds = date.fromisoformat(interval.ds)
                deleted = self.execute(f"DELETE FROM {target_sql} WHERE {quote_ident(SNAPSHOT_COLUMN)} = {p}", [ds])
                self.execute(
                    f"INSERT INTO {target_sql} ({col_list}, {quote_ident(SNAPSHOT_COLUMN)}) SELECT {col_list}, CAST({p} AS DATE) FROM {stage_sql}",
                    [ds],
                )
            else:
                predicate, bounds = self._catalog_cursor_bounds(load, interval, dict(staged))
                where = predicate
                if load.primary_key:
                    match = " AND ".join(f"s.{quote_ident(k)} = t.{quote_ident(k)}" for k in load.primary_key)
                    where = f"{predicate} OR EXISTS (SELECT 1 FROM {stage_sql} AS s WHERE {match})"
                deleted = self.execute(f"DELETE FROM {target_sql} AS t WHERE {where}", bounds)
                self.execute(f"INSERT INTO {target_sql} ({col_list}) SELECT {col_list} FROM {stage_sql}")
            self.execute(f"DROP TABLE {stage_sql}")
        return LoadResult(inserted=inserted, deleted=deleted)

    def _catalog_cursor_bounds(self, load: Load, interval: Interval, types: dict[str, str]) -> tuple[str, list]:
        """Like _cursor_bounds, from the staged column's catalog type (publish runs in
        another task than extract, so there is no Arrow schema here)."""
        cursor = validate_identifier(load.cursor or "")
        t = types[cursor].lower()
        start, end = interval.start_utc, interval.end_utc
        if t == "timestamptz" or ("with time zone" in t and "without" not in t):
            params: list = [start, end]
        elif t.startswith("timestamp") or t in ("date", "datetime"):
            params = [start.replace(tzinfo=None), end.replace(tzinfo=None)]
        else:
            raise EngineError(f"cursor column {cursor!r} has type {t}; incremental loads need a timestamp or date cursor")
        c, p = quote_ident(cursor), self.placeholder
        return f"({c} >= {p} AND {c} < {p})", params

    def load(self, target_table: str, load: Load, interval: Interval, reader: pa.RecordBatchReader) -> LoadResult:
        """Stage and publish in one go (no checks in between)."""
        self.stage_reader(target_table, load, interval, reader)
        return self.publish(target_table, load, interval)

    def _swap(self, schema_name: str | None, table: str, target_sql: str, stage: str, stage_sql: str) -> int:
        """full_refresh: the complete staged table takes the target's name in one transaction;
        readers see the old table or the new one, never an empty or partial one."""
        old = f"_dagf_old_{_token()}"
        deleted = 0
        with self.transaction():
            self._serialize(f"table {target_sql}")
            if self.columns(schema_name, table) is not None:
                deleted = self.count(target_sql)
                self.execute(f"ALTER TABLE {target_sql} RENAME TO {quote_ident(old)}")
                self.execute(f"ALTER TABLE {stage_sql} RENAME TO {quote_ident(table)}")
                self.execute(f"DROP TABLE {self._table_sql(schema_name, old)}")
            else:
                self.execute(f"ALTER TABLE {stage_sql} RENAME TO {quote_ident(table)}")
        return deleted

    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of a query; used by checks."""
        raise NotImplementedError

    @abstractmethod
    def count(self, table_sql: str) -> int: ...
