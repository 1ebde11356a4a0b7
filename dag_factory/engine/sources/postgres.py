"""PostgreSQL source: COPY ... TO STDOUT (csv) parsed by Arrow's streaming CSV reader.

COPY is the fastest way out of PostgreSQL, and Arrow parses it in C++ with
explicit column types, so memory stays at one block/batch whatever the table
size. The columns (type OIDs) come from a `LIMIT 0` run of the same SELECT;
normalize decides their Arrow types, and the COPY is parsed into those.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from dag_factory.config.model import Load, Source, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.pgconn import connect_postgres
from dag_factory.engine.sources.base import base_select, cursor_column, expect, render_query, template_values
from dag_factory.engine.sources.raw import ArrowStream, NativeColumn
from dag_factory.errors import EngineError

_BPCHAR = 1042  # char(n): its values come padded with blanks


def _pg_name(name: str) -> str:
    """A result column's name as a quoted identifier in a query with psycopg placeholders
    (it comes from the server, any spelling, '%' included)."""
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


def unpadded_select(sql: str, description: Sequence[psycopg.Column]) -> str:
    """`sql` with char(n) columns cast to text, which drops their blank padding.

    char(n) values come out of PostgreSQL padded ('MAIL      '); in the warehouse's text
    types trailing blanks count, so `= 'MAIL'` would match nothing. PostgreSQL's own
    char(n) -> text cast strips them, and MySQL/MariaDB return char(n) unpadded: the same
    value from every source (docs/types.md).
    """
    if not any(d.type_code == _BPCHAR for d in description):
        return sql
    cols = ", ".join(
        f"{_pg_name(d.name)}::text AS {_pg_name(d.name)}" if d.type_code == _BPCHAR else _pg_name(d.name) for d in description
    )
    return f"SELECT {cols} FROM ({sql}) AS c"


class _CopyReader(io.RawIOBase):
    """File-like view of psycopg COPY OUT chunks, for pyarrow.csv.open_csv."""

    def __init__(self, copy: psycopg.Copy) -> None:
        self._copy = copy
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        # libpq hands out COPY data one row at a time: fill the whole buffer per call,
        # so the Python overhead is per row, not per row *and* per read call.
        view = memoryview(b).cast("B")
        size, filled = len(view), 0
        while filled < size:
            if not self._buf:
                chunk = self._copy.read()
                if not chunk:
                    break
                self._buf = memoryview(bytes(chunk))
            n = min(size - filled, len(self._buf))
            view[filled : filled + n] = self._buf[:n]
            self._buf = self._buf[n:]
            filled += n
        return filled


def _decode_bytea(arr: pa.Array) -> pa.Array:
    """PostgreSQL hex output ('\\x0a0b') -> bytes."""
    out: list[bytes | None] = []
    for v in arr.to_pylist():
        if v is None:
            out.append(None)
        elif v.startswith("\\x"):
            out.append(bytes.fromhex(v[2:]))
        else:
            raise EngineError("bytea value not in hex format; set bytea_output = 'hex'")
    return pa.array(out, pa.binary())


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

    def read(self, source: Source, load: Load, interval: Interval) -> ArrowStream:
        sql, params = self.selection(expect(source, SqlSource, self), load, interval)
        pg = self._connection()
        try:
            cur = pg.execute(f"SELECT * FROM ({sql}) AS s LIMIT 0", params)
        except psycopg.Error as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from e
        columns = tuple(
            NativeColumn(d.name, "postgres", d.type_code, precision=d.precision, scale=d.scale) for d in cur.description or ()
        )
        where = f"source {self.conn}"
        unpadded = unpadded_select(sql, cur.description or [])

        def decode(schema: pa.Schema | None) -> tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]:
            if schema is None:
                raise EngineError(f"{where}: COPY needs the column types")
            return schema, ((where, b) for b in self._stream(unpadded, params, schema))

        return ArrowStream(where, columns, decode)

    def _stream(self, sql: str, params: list[object], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        bytea_cols = [i for i, f in enumerate(schema) if pa.types.is_binary(f.type)]
        csv_types = {f.name: (pa.string() if pa.types.is_binary(f.type) else f.type) for f in schema}
        convert = pacsv.ConvertOptions(
            column_types=csv_types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
            true_values=["t"],
            false_values=["f"],
        )
        read_opts = pacsv.ReadOptions(column_names=schema.names, block_size=1 << 20)
        parse = pacsv.ParseOptions(newlines_in_values=True)
        pg = self._connection()
        # psycopg binds COPY parameters client-side with proper literal quoting.
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER false)"
        try:
            with pg.cursor().copy(copy_sql, params) as copy:
                stream = io.BufferedReader(_CopyReader(copy), buffer_size=1 << 20)
                if not stream.peek(1):
                    return
                reader = pacsv.open_csv(stream, read_options=read_opts, parse_options=parse, convert_options=convert)
                for batch in reader:
                    if bytea_cols:
                        cols = list(batch.columns)
                        for i in bytea_cols:
                            cols[i] = _decode_bytea(cols[i])
                        batch = pa.RecordBatch.from_arrays(cols, schema=schema)
                    yield batch
        except pa.ArrowInvalid as e:
            raise EngineError(f"source {self.conn}: value does not fit its column type: {e}") from e
        except psycopg.Error as e:
            raise EngineError(f"source {self.conn}: COPY failed: {e}") from e
