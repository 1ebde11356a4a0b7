"""SQLite source: DB-API `fetchmany` over a read-only connection.

SQLite is loosely typed, so each column is described by its declared type
(PRAGMA table_info; for queries via a TEMP VIEW); normalize maps it to Arrow, and
infers undeclared columns from the first batch of values.

Time semantics: naive DATETIME/TIMESTAMP text is taken to be UTC. Incremental
reads compare `julianday(cursor)` with `julianday(bound)`, the bounds being UTC
ISO strings, so text with and without offsets compares by instant (SQLite keeps
millisecond precision in that comparison).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dag_factory.config.model import Load, Source, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident, split_table
from dag_factory.engine.parallel import PartRange, part_where
from dag_factory.engine.sources.base import (
    base_select,
    cursor_column,
    expect,
    render_query,
    template_values,
    template_values_names,
    utc_naive_text,
)
from dag_factory.engine.sources.raw import NativeColumn, RowStream
from dag_factory.errors import ConnectionConfigError, EngineError


class SqliteSource:
    """Reads one pipeline source from a SQLite file, opened read-only."""

    def __init__(self, conn: ConnInfo) -> None:
        if not conn.host:
            raise ConnectionConfigError(f"connection {conn}: SQLite needs the database file path in 'host'")
        self.conn = conn
        self.path = Path(conn.host)
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.is_file():
                raise EngineError(f"source {self.conn}: SQLite file {str(self.path)!r} does not exist")
            uri = self.path.absolute().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> SqliteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def selection(self, source: SqlSource, load: Load, interval: Interval) -> tuple[str, list[object]]:
        values = {k: utc_naive_text(v) if isinstance(v, datetime) else v for k, v in template_values(interval).items()}
        params: list[object] = []
        query_sql = None
        if source.query is not None:
            query_sql, params = render_query(source.query, values, "?")
        sql = base_select(source, query_sql)
        cursor = cursor_column(load)
        if cursor:
            c = quote_ident(cursor)
            sql += f" WHERE julianday({c}) >= julianday(?) AND julianday({c}) < julianday(?)"
            params += [utc_naive_text(interval.start), utc_naive_text(interval.end)]
        return sql, params

    def _declared_types(self, source: SqlSource, load: Load) -> list[tuple[str, str]]:
        """(name, declared type) of the selected columns.

        Also checks that projected and cursor columns exist: SQLite would
        otherwise read an unknown "name" as a string literal and select nothing.
        """
        db = self._connection()
        if source.query is None:
            schema, table = split_table(source.table or "")
            rows = db.execute("SELECT name, type FROM pragma_table_info(?, ?)", (table, schema or "main")).fetchall()
            if not rows:
                raise EngineError(f"source {self.conn}: table {source.table!r} not found")
            what = f"table {source.table!r}"
        else:
            # Views cannot hold parameters: probe with the templates as NULL.
            probe_sql, _ = render_query(source.query, dict.fromkeys(template_values_names()), "NULL")
            view = f"_dagf_probe_{uuid.uuid4().hex[:12]}"
            try:
                db.execute(f"CREATE TEMP VIEW {quote_ident(view)} AS {base_select(replace(source, columns=None), probe_sql)}")
                rows = db.execute("SELECT name, type FROM pragma_table_info(?, 'temp')", (view,)).fetchall()
            except sqlite3.Error as e:
                raise EngineError(f"source {self.conn}: cannot run the query: {e}") from e
            finally:
                db.execute(f"DROP VIEW IF EXISTS temp.{quote_ident(view)}")
            what = "the query"
        by_name = dict(rows)
        wanted = list(source.columns or ())
        cursor = cursor_column(load)
        missing = [c for c in [*wanted, *([cursor] if cursor else [])] if c not in by_name]
        if missing:
            raise EngineError(f"source {self.conn}: {what} has no column(s) {missing}; it has {list(by_name)}")
        return [(c, by_name[c]) for c in wanted] if wanted else rows

    def column_range(self, source: Source, load: Load, interval: Interval, column: str) -> tuple[object, object]:
        """min and max of `column` within the selection (SQLite: an integer column; its
        timestamps are text, so a timestamp range works only as the incremental cursor)."""
        sql, params = self.selection(expect(source, SqlSource, self), load, interval)
        c = quote_ident(column)
        try:
            row = self._connection().execute(f"SELECT min({c}), max({c}) FROM ({sql}) AS s", params).fetchone()
        except sqlite3.Error as e:
            raise EngineError(f"source {self.conn}: cannot plan the parallel parts on {column!r}: {e}") from e
        return (row[0], row[1]) if row else (None, None)

    def read(self, source: Source, load: Load, interval: Interval, part: PartRange | None = None) -> RowStream:
        sql_source = expect(source, SqlSource, self)
        declared = dict(self._declared_types(sql_source, load))
        sql, params = self.selection(sql_source, load, interval)
        if part is not None:  # one range of a parallel extract
            conv = lambda v: utc_naive_text(v) if isinstance(v, datetime) else v  # noqa: E731
            cmp = "julianday({c}) {op} julianday({ph})" if isinstance(part.lo or part.hi, datetime) else "{c} {op} {ph}"
            cond, more = part_where(part, quote_ident(part.column), "?", conv, cmp)
            sql, params = f"SELECT * FROM ({sql}) AS p WHERE {cond}", params + more
        cur = self._connection().cursor()
        try:
            cur.execute(sql, params)
            first = cur.fetchmany(sql_source.batch_size)
        except sqlite3.Error as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from e
        columns = tuple(NativeColumn(d[0], "sqlite", type_name=declared.get(d[0])) for d in cur.description)

        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            rows = first
            while rows:
                yield rows
                rows = cur.fetchmany(sql_source.batch_size)
            cur.close()

        return RowStream(f"source {self.conn}", columns, chunks())
