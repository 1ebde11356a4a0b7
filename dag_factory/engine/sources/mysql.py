"""MySQL / MariaDB / Aurora MySQL source: connectorx straight into Arrow when it reads the
result exactly (engine/mysql_arrow.py: 5.8x faster), else PyMySQL with an unbuffered cursor.

PyMySQL's `SSCursor` reads rows off the socket as they are fetched, so memory stays
at one batch whatever the table size (a buffered cursor would hold the whole result).
The columns are described by the protocol's column definitions of a `LIMIT 0` run of the
same SELECT; normalize maps them (and PyMySQL's values) to Arrow.

Connection (Airflow conn_type `mysql`, engine kind `mysql`): host, port (3306), login,
password, schema (= the database); extra `charset` (default utf8mb4), `ssl`
(a dict passed to PyMySQL, e.g. `{"ca": "/etc/ssl/rds-ca.pem"}` for Aurora/RDS) and `reader`
("auto", or "pymysql" to keep connectorx out: a hard memory bound, about 10x slower).

Time semantics: the session runs with `time_zone = '+00:00'`, so TIMESTAMP columns
come back in UTC (Arrow timestamp with tz UTC) and compare against the interval
bounds as UTC; DATETIME columns carry no zone and are read as UTC (naive Arrow
timestamp), like PostgreSQL `timestamp`. Interval bounds are bound parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dag_factory.config.model import Load, Source, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine import mysql_arrow
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import split_table, validate_identifier
from dag_factory.engine.parallel import PartRange, part_where
from dag_factory.engine.sources.base import cursor_column, expect, render_query, template_values
from dag_factory.engine.sources.raw import NativeColumn, RowStream
from dag_factory.errors import ConnectionConfigError, EngineError

if TYPE_CHECKING:
    import pymysql

log = logging.getLogger(__name__)


def quote_mysql(name: str) -> str:
    """`name` -> `` `name` `` (validated plain identifier first)."""
    return f"`{validate_identifier(name)}`"


def quote_mysql_table(name: str) -> str:
    schema, table = split_table(name)
    return f"{quote_mysql(schema)}.{quote_mysql(table)}" if schema else quote_mysql(table)


def _unpad_char(db: pymysql.connections.Connection[Any]) -> None:
    """char(n) values without their blank padding, as from every source (docs/types.md).

    MySQL/MariaDB strip it unless the server's sql_mode has PAD_CHAR_TO_FULL_LENGTH; the
    session drops that mode (a parameter, so no sql_mode string is spelled out in SQL).
    """
    with db.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        row = cur.fetchone()
        modes = str((row[0] if row else "") or "").split(",")
        if "PAD_CHAR_TO_FULL_LENGTH" in modes:
            cur.execute("SET SESSION sql_mode = %s", (",".join(m for m in modes if m != "PAD_CHAR_TO_FULL_LENGTH"),))


class MysqlSource:
    """Reads one pipeline source from MySQL, MariaDB or Aurora MySQL."""

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = conn
        self._db: pymysql.connections.Connection[Any] | None = None

    def _connection(self) -> pymysql.connections.Connection[Any]:
        if self._db is None:
            import pymysql

            c = self.conn
            if not c.host:
                raise ConnectionConfigError(f"connection {c}: a MySQL connection needs a host")
            extra = c.extra or {}
            kwargs: dict[str, Any] = {}
            if extra.get("ssl"):
                kwargs["ssl"] = extra["ssl"]
            try:
                self._db = pymysql.connect(
                    host=c.host,
                    port=int(c.port or 3306),
                    user=c.login,
                    password=c.password or "",
                    database=c.database,
                    charset=extra.get("charset", "utf8mb4"),
                    connect_timeout=int(extra.get("connect_timeout", 30)),
                    # the session: instants in UTC; a slow consumer (a large upload between
                    # fetches) must not make the server drop the streaming result
                    init_command="SET time_zone = '+00:00', net_write_timeout = 3600",
                    autocommit=True,
                    **kwargs,
                )
            except pymysql.MySQLError as e:
                raise EngineError(f"source {c}: cannot connect: {e}") from None
            _unpad_char(self._db)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # broad: whatever state an abandoned stream left, closing must not raise
                log.debug("closing the MySQL connection %s failed; the socket is dropped anyway", self.conn, exc_info=True)
            self._db = None

    def __enter__(self) -> MysqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def selection(self, source: SqlSource, load: Load, interval: Interval) -> tuple[str, list[object]]:
        """The SELECT (PyMySQL `%s` placeholders, literal '%' doubled) and its parameters."""
        params: list[object] = []
        cols = ", ".join(quote_mysql(c) for c in source.columns) if source.columns else "*"
        if source.query is not None:
            q, params = render_query(source.query, template_values(interval), "%s", lambda s: s.replace("%", "%%"))
            sql = f"SELECT {cols} FROM ({q.strip().rstrip(';')}) AS q"
        elif source.table:
            sql = f"SELECT {cols} FROM {quote_mysql_table(source.table)}"
        else:
            raise EngineError("source needs either 'table' or 'query'")
        # PyMySQL formats datetimes without their zone: pass UTC wall-clock values, which
        # compare right with DATETIME (read as UTC) and TIMESTAMP (session time_zone UTC)
        params = [_naive_utc(v) for v in params]
        cursor = cursor_column(load)
        if cursor:
            c = quote_mysql(cursor)
            sql = f"SELECT * FROM ({sql}) AS w WHERE {c} >= %s AND {c} < %s"
            params += [_naive_utc(interval.start_utc), _naive_utc(interval.end_utc)]
        return sql, params

    def column_range(self, source: Source, load: Load, interval: Interval, column: str) -> tuple[object, object]:
        """min and max of `column` within the selection (planning parallel parts)."""
        import pymysql

        sql, params = self.selection(expect(source, SqlSource, self), load, interval)
        c = quote_mysql(column)
        try:
            with self._connection().cursor() as cur:
                cur.execute(f"SELECT min({c}), max({c}) FROM ({sql}) AS s", tuple(params))
                row = cur.fetchone()
        except pymysql.MySQLError as e:
            raise EngineError(f"source {self.conn}: cannot plan the parallel parts on {column!r}: {e}") from None
        return (row[0], row[1]) if row else (None, None)

    def read(self, source: Source, load: Load, interval: Interval, part: PartRange | None = None) -> RowStream:
        import pymysql

        sql_source = expect(source, SqlSource, self)
        sql, params = self.selection(sql_source, load, interval)
        if part is not None:  # one range of a parallel extract (datetimes as UTC wall clock, as above)
            cond, more = part_where(part, quote_mysql(part.column), "%s", _naive_utc)
            sql, params = f"SELECT * FROM ({sql}) AS p WHERE {cond}", params + more
        db = self._connection()
        try:
            with db.cursor() as cur:
                cur.execute(f"SELECT * FROM ({sql}) AS s LIMIT 0", tuple(params))
                fields = cur._result.fields  # the protocol's column definitions (flags, charset)
        except pymysql.MySQLError as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from None
        columns = tuple(
            NativeColumn(f.name, "mysql", f.type_code, precision=f.length, scale=f.scale, flags=f.flags, charset=f.charsetnr)
            for f in fields
        )
        where = f"source {self.conn}"
        size = sql_source.batch_size
        return RowStream(
            where,
            columns,
            self._stream(sql, params, size),
            exact=lambda schema: self._connectorx(sql, params, schema, [c.type_code for c in columns], size, where),
        )

    def _connectorx(
        self, sql: str, params: list[object], schema: pa.Schema, codes: list[int], size: int, where: str
    ) -> Iterator[tuple[str, pa.RecordBatch]] | None:
        """The result read by connectorx into normalize's `schema`, when it reads it exactly (engine/mysql_arrow.py)."""
        if not mysql_arrow.eligible(self.conn, schema, codes):
            return None
        db = self._connection()
        literal = db.cursor().mogrify(sql, tuple(params))
        with db.cursor() as cur:  # connectorx's session gets ours: same sql_mode (char(n) unpadded)
            cur.execute("SELECT @@SESSION.sql_mode")
            row = cur.fetchone()
            session = [f"SET SESSION sql_mode = {db.escape(str(row[0] if row else '') or '')}"]
        # No read-ahead thread here: connectorx parses in its own Rust thread already, and its
        # iterator holds the GIL while it waits for a batch, so a second Python thread waiting in
        # it can only stall this one (casts, Parquet writer). benchmarks/README, "Third pass".
        raw = mysql_arrow.read_raw(self.conn, literal, size, where, session)
        return ((where, mysql_arrow.conform(b, schema, codes, where)) for b in raw)  # exact casts, here

    def _stream(self, sql: str, params: list[object], size: int) -> Iterator[list[tuple[Any, ...]]]:
        import pymysql
        from pymysql.cursors import SSCursor

        db = self._connection()
        cur = db.cursor(SSCursor)
        finished = False
        try:
            cur.execute(sql, tuple(params))
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    break
                yield list(rows)
            finished = True
        except pymysql.MySQLError as e:
            raise EngineError(f"source {self.conn}: reading failed: {e}") from None
        finally:
            if finished:
                cur.close()
            else:  # abandoned mid-stream: closing the cursor would read the rest; drop the connection
                result = getattr(cur, "_result", None)
                if result is not None:
                    result.unbuffered_active = False  # nothing left to drain once the socket is gone
                self.close()


def _naive_utc(v: object) -> object:
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v
