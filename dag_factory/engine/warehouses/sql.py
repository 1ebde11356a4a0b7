"""Load semantics shared by the SQL warehouses: stage, check, then one short transaction.

The modes (see Load): incremental replaces the interval's rows (and, with a primary key,
every staged key); snapshot replaces one `snapshot_date`; full_refresh swaps in a complete
new table. Publishing is split into steps (`_publish_<mode>`, `_swap`, `_create_target`) so a
dialect overrides only the step whose SQL differs, and a new mode is one more step.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date

import pyarrow as pa

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine import schema_change
from dag_factory.engine.identifiers import quote_ident, split_table, validate_identifier
from dag_factory.engine.lake import S3Partition
from dag_factory.engine.warehouses.base import SNAPSHOT_COLUMN, LoadResult, StageInput, Warehouse
from dag_factory.engine.warehouses.capabilities import Alter
from dag_factory.engine.warehouses.history import publish_history
from dag_factory.engine.warehouses.types import SqlType
from dag_factory.errors import EngineError

log = logging.getLogger(__name__)

_MAX_STAGE_NAME = 63  # PostgreSQL's identifier limit, the shortest among the SQL warehouses


def _token() -> str:
    return uuid.uuid4().hex[:16]


_ALTER: dict[str, Alter] = {"add": "add_column", "widen": "widen_column", "drop": "drop_column"}
_ALL_ALTERS: frozenset[Alter] = frozenset(_ALTER.values())
_CATALOG_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9 _]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?[A-Za-z ]*$")


def _ddl_type(catalog_type: str | None) -> str:
    """A type as the catalog spelled it, checked before it goes into ALTER TABLE text."""
    if not catalog_type or not _CATALOG_TYPE.match(catalog_type):
        raise EngineError(f"unexpected catalog type {catalog_type!r}")
    return catalog_type


def _described(changes: tuple[schema_change.Change, ...]) -> tuple[str, ...]:
    return tuple(c.describe() for c in changes)


@dataclass(frozen=True)
class Staged:
    """What publish works from: the staged table as the catalog describes it."""

    schema: str | None  # the target's schema (None: the default)
    table: str  # the target's name
    target_sql: str
    stage: str
    stage_sql: str
    columns: list[tuple[str, str]]  # (name, catalog type) of the staged table
    rows: int

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]

    @property
    def col_list(self) -> str:
        return ", ".join(quote_ident(n) for n in self.names)


class SqlWarehouse(Warehouse):
    """A SQL warehouse: a staging table beside the target, published in one transaction."""

    date_type = "DATE"  # how the catalog spells the snapshot_date column's type

    # -- dialect hooks ------------------------------------------------------
    def sql_type(self, t: pa.DataType, column: str) -> str:
        """DDL type for an Arrow type (EngineError if unsupported)."""
        return self.types.to_sql(t, column)

    @abstractmethod
    def execute(self, sql: str, params: list | tuple = ()) -> int:
        """Run one statement; returns the affected row count (DML) or -1."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[object]:
        """Context manager: commit on success, roll back on error."""

    @abstractmethod
    def _fill_stage(self, data: StageInput, table_sql: str, columns: list[str]) -> int:
        """Copy the rows into the existing (empty) staging table `table_sql`; returns the row count."""

    @abstractmethod
    def count(self, table_sql: str) -> int: ...

    def _serialize(self, name: str) -> None:  # noqa: B027 - a hook, empty by default
        """Inside a transaction: wait until no other loader holds `name` (a table or schema),
        so two runs at once act as one after the other. Default: nothing, for warehouses whose
        writers queue anyway (DuckDB's file lock); PostgreSQL takes an advisory lock."""

    def _create_schema(self, schema_name: str) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema_name)}")

    def _table_sql(self, schema: str | None, table: str) -> str:
        return f"{quote_ident(schema or self.default_schema)}.{quote_ident(table)}"

    def _temp_sql(self, table: str) -> str:
        return quote_ident(table)

    # -- shared checks --------------------------------------------------------
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

    def _validate_columns(self, load: Load, names: list[str]) -> None:
        if load.mode == "snapshot" and SNAPSHOT_COLUMN in names:
            raise EngineError(f"snapshot load: the source already has a column named {SNAPSHOT_COLUMN!r}")
        for k in load.primary_key:
            if validate_identifier(k) not in names:
                raise EngineError(f"primary key column {k!r} is not among the extracted columns {names}")
        if load.mode == "incremental" and validate_identifier(load.cursor or "") not in names:
            raise EngineError(f"cursor column {load.cursor!r} is not among the extracted columns {names}")
        if load.mode not in self.capabilities.load_modes:
            raise EngineError(f"a {self.capabilities.name} target cannot load mode {load.mode!r}")

    # -- write ------------------------------------------------------------------
    def staging_table(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        """Beside the target, one per target and interval, so a re-run replaces its own stage and
        parallel intervals don't meet; persistent, so checks can run between the steps."""
        schema_name, table = split_table(target_table)
        when = interval.partition.replace("-", "").lower()
        name = f"_dagf_stage_{table}_{when}"
        if len(name) > _MAX_STAGE_NAME:
            name = f"_dagf_stage_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{when}"
        return schema_name, name, self._table_sql(schema_name, name)

    def _fresh_stage(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        schema_name, name, stage_sql = self.staging_table(target_table, interval)
        if schema_name:
            self._create_schema(schema_name)
        self.execute(f"DROP TABLE IF EXISTS {stage_sql}")
        return schema_name, name, stage_sql

    def stage(self, target_table: str, load: Load, interval: Interval, data: StageInput) -> int:
        """Create the run's staging table with the extract's columns, then fill it."""
        arrow_schema = data.schema
        names = [validate_identifier(f.name) for f in arrow_schema]
        self._validate_columns(load, names)
        if load.mode == "incremental":
            self._cursor_bounds(load, interval, arrow_schema)  # fail before staging, with the Arrow type
        ddl = ", ".join(f"{quote_ident(n)} {self.sql_type(f.type, n)}" for n, f in zip(names, arrow_schema, strict=True))
        _, _, stage_sql = self._fresh_stage(target_table, interval)
        self.execute(f"CREATE TABLE {stage_sql} ({ddl})")
        return self._fill_stage(data, stage_sql, names)

    def stage_query(self, target_table: str, interval: Interval, sql: str, params: list) -> int:
        _, _, stage_sql = self._fresh_stage(target_table, interval)
        self.execute(f"CREATE TABLE {stage_sql} AS {sql}", params)
        return self.count(stage_sql)

    # -- publish ------------------------------------------------------------------
    def _staged(self, target_table: str, load: Load, interval: Interval) -> Staged:
        schema_name, table = split_table(target_table)
        _, stage, stage_sql = self.staging_table(target_table, interval)
        columns = self.columns(schema_name, stage)
        if columns is None:
            raise EngineError(f"nothing staged for {target_table} and {interval.ds}: run the stage step (load.stage) first")
        self._validate_columns(load, [n for n, _ in columns])
        target_sql = self._table_sql(schema_name, table)
        return Staged(schema_name, table, target_sql, stage, stage_sql, columns, self.count(stage_sql))

    def _publishers(self) -> dict[str, Callable[[Staged, Load, Interval], int]]:
        """Load mode -> the step that replaces the target's rows inside the publish transaction
        (returns rows deleted). full_refresh is not here: it swaps tables (_swap)."""
        return {"incremental": self._publish_incremental, "snapshot": self._publish_snapshot}

    def publish(self, target_table: str, load: Load, interval: Interval, part: S3Partition | None = None) -> LoadResult:
        """Publish the staged rows into the target in one short transaction, by mode; column
        changes (load.on_schema_change, engine/schema_change.py) are made in that transaction
        where the warehouse allows it, else just before it (and drops just after)."""
        s = self._staged(target_table, load, interval)
        name = f"{s.schema or self.default_schema}.{s.table}"
        if load.mode == "full_refresh":
            shape = schema_change.replaced(name, self.columns(s.schema, s.table), s.columns, self.types)
            for c in shape.changes:
                log.info("%s (full_refresh): %s", name, c.describe())
            return LoadResult(inserted=s.rows, deleted=self._swap(s), changes=_described(shape.changes))
        if load.mode == "history":
            return publish_history(self, s, load, interval)
        before = self._alter_outside(s, load, name)
        with self.transaction():
            # one publish per target at a time, and the target looked up under that lock: two
            # runs at once (max_active_runs > 1) must not both create it or interleave
            self._serialize(f"table {s.target_sql}")
            existing = self.columns(s.schema, s.table)
            if existing is None:
                self._create_target(s, load)
                plan = schema_change.Plan(name, (), tuple(s.names))
            else:
                plan = self._plan(s, load, name, existing)
                plan.raise_problems()
                for c in plan.alters:
                    if _ALTER[c.kind] in self.capabilities.alters_in_transaction:
                        self.execute(self._alter_sql(s, c))
            insert = replace(s, columns=[(n, t) for n, t in s.columns if n in plan.insert_columns])
            deleted = self._publishers()[load.mode](insert, load, interval)
            self.execute(f"DROP TABLE {s.stage_sql}")
        after = [c for c in plan.alters if _ALTER[c.kind] not in self.capabilities.alters_in_transaction]
        for c in after:  # drops the warehouse cannot make in the transaction: after it, never before
            self.execute(self._alter_sql(s, c))
        changes = (*before, *plan.changes)
        for c in changes:  # the run log (Airflow's task log captures this logger too)
            (log.warning if c.kind == "ignore" else log.info)("%s: %s", name, c.describe())
        return LoadResult(inserted=s.rows, deleted=deleted, changes=_described(changes))

    # -- schema changes -------------------------------------------------------------
    def _plan(self, s: Staged, load: Load, name: str, existing: list[tuple[str, str]]) -> schema_change.Plan:
        managed = (SNAPSHOT_COLUMN,) if load.mode == "snapshot" else ()
        return schema_change.plan(
            name,
            existing,
            s.columns,
            load.on_schema_change,
            self.types,
            self.capabilities.widenings,
            lambda column, target: self._fits(s.stage_sql, column, target),
            managed=managed,
        )

    def _alter_outside(self, s: Staged, load: Load, name: str) -> tuple[schema_change.Change, ...]:
        """Additions and widenings the warehouse cannot make inside a transaction (Redshift),
        each committed on its own before the publish transaction; see docs/schema-changes.md."""
        if _ALL_ALTERS <= self.capabilities.alters_in_transaction:
            return ()
        existing = self.columns(s.schema, s.table)
        if existing is None:
            return ()
        plan = self._plan(s, load, name, existing)
        plan.raise_problems()
        early = tuple(
            c for c in plan.alters if c.kind != "drop" and _ALTER[c.kind] not in self.capabilities.alters_in_transaction
        )
        for c in early:
            self.execute(self._alter_sql(s, c))
        return early

    def _alter_sql(self, s: Staged, c: schema_change.Change) -> str:
        col = quote_ident(c.column)
        if c.kind == "add":
            return f"ALTER TABLE {s.target_sql} ADD COLUMN {col} {_ddl_type(c.new)}"
        if c.kind == "widen":
            return f"ALTER TABLE {s.target_sql} ALTER COLUMN {col} TYPE {_ddl_type(c.new)}"
        return f"ALTER TABLE {s.target_sql} DROP COLUMN {col}"

    def _fits(self, stage_sql: str, column: str, target: SqlType) -> bool:
        """Every staged value of `column` converts to the target's type without loss."""
        c = quote_ident(column)
        if target.family == "string":
            bad = f"length({c}) > {target.length}" if target.length else "FALSE"
        elif target.family == "integer":
            lo, hi = (0, 2**target.bits - 1) if target.unsigned else (-(2 ** (target.bits - 1)), 2 ** (target.bits - 1) - 1)
            bad = f"{c} < {lo} OR {c} > {hi}"
        elif target.family == "decimal":
            bad = f"{c} <> round({c}, {target.scale})"
            if target.precision:
                bad += f" OR abs({c}) >= {10 ** (target.precision - target.scale)}"
        else:
            return False
        return self.count(f"(SELECT 1 FROM {stage_sql} WHERE {bad}) AS f") == 0

    def _create_target(self, s: Staged, load: Load) -> None:
        extra = f", CAST(NULL AS DATE) AS {quote_ident(SNAPSHOT_COLUMN)}" if load.mode == "snapshot" else ""
        self.execute(f"CREATE TABLE {s.target_sql} AS SELECT {s.col_list}{extra} FROM {s.stage_sql} LIMIT 0")

    def _publish_snapshot(self, s: Staged, load: Load, interval: Interval) -> int:
        ds, p, snap = date.fromisoformat(interval.ds), self.placeholder, quote_ident(SNAPSHOT_COLUMN)
        deleted = self.execute(f"DELETE FROM {s.target_sql} WHERE {snap} = {p}", [ds])
        self.execute(
            f"INSERT INTO {s.target_sql} ({s.col_list}, {snap}) SELECT {s.col_list}, CAST({p} AS DATE) FROM {s.stage_sql}",
            [ds],
        )
        return deleted

    def _publish_incremental(self, s: Staged, load: Load, interval: Interval) -> int:
        """Replace the window [start - lookback, end) and, with a key, every staged key; staged
        rows marked by hard_delete only remove their key."""
        window = interval.widened(load.lookback)
        predicate, bounds = self._catalog_cursor_bounds(load, window, dict(s.columns))
        where = predicate
        if load.primary_key:
            match = " AND ".join(f"s.{quote_ident(k)} = t.{quote_ident(k)}" for k in load.primary_key)
            where = f"{predicate} OR EXISTS (SELECT 1 FROM {s.stage_sql} AS s WHERE {match})"
        deleted = self.execute(f"DELETE FROM {s.target_sql} AS t WHERE {where}", bounds)
        self.execute(f"INSERT INTO {s.target_sql} ({s.col_list}) SELECT {s.col_list} FROM {s.stage_sql}{self._kept(s, load)}")
        return deleted

    def _kept(self, s: Staged, load: Load) -> str:
        """The WHERE clause keeping the staged rows that are not hard deletes ('' without hard_delete)."""
        if not load.hard_delete:
            return ""
        column = validate_identifier(load.hard_delete)
        kind = dict(s.columns).get(column)
        if kind is None:
            raise EngineError(f"hard_delete column {column!r} is not among the extracted columns {s.names}")
        c, t = quote_ident(column), kind.lower()
        if t.startswith("bool"):
            return f" WHERE {c} IS NOT TRUE"
        if t.split("(")[0] in ("smallint", "integer", "bigint", "int", "tinyint", "hugeint", "int2", "int4", "int8"):
            return f" WHERE ({c} IS NULL OR {c} = 0)"  # a 0/1 flag column (MySQL's BOOLEAN is TINYINT)
        return f" WHERE {c} IS NULL"  # deleted_at and the like: set means deleted

    def _swap(self, s: Staged) -> int:
        """full_refresh: the complete staged table takes the target's name in one transaction;
        readers see the old table or the new one, never an empty or partial one."""
        old = f"_dagf_old_{_token()}"
        deleted = 0
        with self.transaction():
            self._serialize(f"table {s.target_sql}")
            if self.columns(s.schema, s.table) is not None:
                deleted = self.count(s.target_sql)
                self.execute(f"ALTER TABLE {s.target_sql} RENAME TO {quote_ident(old)}")
                self.execute(f"ALTER TABLE {s.stage_sql} RENAME TO {quote_ident(s.table)}")
                self.execute(f"DROP TABLE {self._table_sql(s.schema, old)}")
            else:
                self.execute(f"ALTER TABLE {s.stage_sql} RENAME TO {quote_ident(s.table)}")
        return deleted
