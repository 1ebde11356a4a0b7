"""PostgreSQL source: binary COPY parsed into Arrow by the ADBC driver (engine/pg_arrow.py).

The columns (type OIDs) come from a `LIMIT 0` run of the same SELECT (psycopg, which also
binds the query's parameters client-side); normalize decides their Arrow types, and the
driver's batches are cast exactly into those. Batches are read ahead in a thread, so
reading overlaps Parquet writing, and memory stays at a few batches whatever the table size.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pyarrow as pa

from dag_factory.config.model import Load, Source, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine import pg_arrow
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.overlap import read_ahead
from dag_factory.engine.parallel import PartRange, part_where
from dag_factory.engine.pgconn import _PASSTHROUGH_EXTRA, connect_postgres
from dag_factory.engine.sources.base import base_select, cursor_column, expect, render_query, template_values
from dag_factory.engine.sources.raw import ArrowStream, NativeColumn
from dag_factory.errors import EngineError


class PostgresSource:
    """Reads one pipeline source from a PostgreSQL database."""

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = conn
        self._pg: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._pg is None:
            self._pg = connect_postgres(self.conn)
            self._pg.execute("SET bytea_output = 'hex'")
        return self._pg

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None

    def __enter__(self) -> PostgresSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def selection(self, source: SqlSource, load: Load, interval: Interval) -> tuple[str, list[object]]:
        """The SELECT (psycopg placeholders) and its parameters."""
        params: list[object] = []
        query_sql = None
        if source.query is not None:
            query_sql, params = render_query(source.query, template_values(interval), "%s", lambda s: s.replace("%", "%%"))
        sql = base_select(source, query_sql)
        cursor = cursor_column(load)
        if cursor:
            c = quote_ident(cursor)
            sql += f" WHERE {c} >= %s AND {c} < %s"
            params += [interval.start_utc, interval.end_utc]
        return sql, params

    def column_range(self, source: Source, load: Load, interval: Interval, column: str) -> tuple[object, object]:
        """min and max of `column` within the selection (planning parallel parts)."""
        sql, params = self.selection(expect(source, SqlSource, self), load, interval)
        c = quote_ident(column)
        try:
            row = self._connection().execute(f"SELECT min({c}), max({c}) FROM ({sql}) AS s", params).fetchone()
        except psycopg.Error as e:
            raise EngineError(f"source {self.conn}: cannot plan the parallel parts on {column!r}: {e}") from e
        return (row[0], row[1]) if row else (None, None)

    def read(self, source: Source, load: Load, interval: Interval, part: PartRange | None = None) -> ArrowStream:
        sql, params = self.selection(expect(source, SqlSource, self), load, interval)
        if part is not None:  # one range of a parallel extract
            cond, more = part_where(part, quote_ident(part.column), "%s")
            sql, params = f"SELECT * FROM ({sql}) AS p WHERE {cond}", params + more
        pg = self._connection()
        try:
            cur = pg.execute(f"SELECT * FROM ({sql}) AS s LIMIT 0", params)
        except psycopg.Error as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from e
        columns = tuple(
            NativeColumn(d.name, "postgres", d.type_code, precision=d.precision, scale=d.scale) for d in cur.description or ()
        )
        where = f"source {self.conn}"
        oids = [d.type_code for d in cur.description or ()]

        def decode(schema: pa.Schema | None) -> tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]:
            if schema is None:
                raise EngineError(f"{where}: COPY needs the column types")
            raw = read_ahead(self._stream(sql, params, schema, oids))  # the driver's parse, in a thread
            return schema, ((where, pg_arrow.conform(b, schema, oids, where)) for b in raw)  # exact casts, here

        return ArrowStream(where, columns, decode)

    def _stream(self, sql: str, params: list[object], schema: pa.Schema, oids: list[int]) -> Iterator[pa.RecordBatch]:
        # the driver COPYs only a query without parameters: psycopg binds them client-side
        literal = psycopg.ClientCursor(self._connection()).mogrify(sql, params) if params else sql
        select = pg_arrow.outer_select(literal, oids, schema)
        dsn = pg_arrow.conninfo(self.conn, _PASSTHROUGH_EXTRA)
        yield from pg_arrow.read_raw(dsn, select, f"source {self.conn}")
