"""MySQL / MariaDB / Aurora MySQL source: PyMySQL with an unbuffered (streaming) cursor.

PyMySQL's `SSCursor` reads rows off the socket as they are fetched, so memory stays
at one batch whatever the table size (a buffered cursor would hold the whole result).
Types come from the result's column metadata of a `LIMIT 0` run of the same SELECT.

Connection (Airflow conn_type `mysql`, engine kind `mysql`): host, port (3306), login,
password, schema (= the database); extra `charset` (default utf8mb4) and `ssl`
(a dict passed to PyMySQL, e.g. `{"ca": "/etc/ssl/rds-ca.pem"}` for Aurora/RDS).

Time semantics: the session runs with `time_zone = '+00:00'`, so TIMESTAMP columns
come back in UTC (Arrow timestamp with tz UTC) and compare against the interval
bounds as UTC; DATETIME columns carry no zone and are read as UTC (naive Arrow
timestamp), like PostgreSQL `timestamp`. Interval bounds are bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from dag_factory.config.model import Load, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import split_table, validate_identifier
from dag_factory.engine.sources.base import cursor_column, render_query, template_values
from dag_factory.errors import ConnectionConfigError, EngineError

# MySQL protocol field types (pymysql.constants.FIELD_TYPE), spelled out to keep them visible
_DECIMAL, _TINY, _SHORT, _LONG, _FLOAT, _DOUBLE, _NULL, _TIMESTAMP = 0, 1, 2, 3, 4, 5, 6, 7
_LONGLONG, _INT24, _DATE, _TIME, _DATETIME, _YEAR, _NEWDATE = 8, 9, 10, 11, 12, 13, 14
_VARCHAR, _BIT, _JSON, _NEWDECIMAL, _ENUM, _SET = 15, 16, 245, 246, 247, 248
_TINY_BLOB, _MEDIUM_BLOB, _LONG_BLOB, _BLOB, _VAR_STRING, _STRING, _GEOMETRY = 249, 250, 251, 252, 253, 254, 255
_UNSIGNED_FLAG, _BINARY_CHARSET = 32, 63

# signed / unsigned integer types; unsigned widen to the next signed type (warehouses
# such as Redshift and Athena have no unsigned integers), BIGINT UNSIGNED to DECIMAL(20,0)
_INTS: dict[int, tuple[pa.DataType, pa.DataType]] = {
    _TINY: (pa.int8(), pa.int16()),
    _SHORT: (pa.int16(), pa.int32()),
    _INT24: (pa.int32(), pa.int32()),
    _LONG: (pa.int32(), pa.int64()),
    _LONGLONG: (pa.int64(), pa.decimal128(20, 0)),
    _YEAR: (pa.int16(), pa.int16()),
}
_TEXTUAL = {_VARCHAR, _VAR_STRING, _STRING, _TINY_BLOB, _MEDIUM_BLOB, _LONG_BLOB, _BLOB, _ENUM, _SET}


def arrow_type(type_code: int, length: int, scale: int, flags: int, charset: int) -> pa.DataType:
    """Arrow type for one MySQL result column (from the protocol's column definition)."""
    unsigned = bool(flags & _UNSIGNED_FLAG)
    if type_code in _INTS:
        return _INTS[type_code][unsigned]
    if type_code in (_DECIMAL, _NEWDECIMAL):
        # the display length counts the digits plus a '.' (scale > 0) and a '-' (signed)
        precision = length - (1 if scale > 0 else 0) - (0 if unsigned else 1)
        precision = max(precision, scale, 1)
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if type_code == _FLOAT:
        return pa.float32()
    if type_code == _DOUBLE:
        return pa.float64()
    if type_code in (_DATE, _NEWDATE):
        return pa.date32()
    if type_code == _DATETIME:
        return pa.timestamp("us")  # no zone in MySQL: read as UTC, like PostgreSQL `timestamp`
    if type_code == _TIMESTAMP:
        return pa.timestamp("us", tz="UTC")  # an instant; the session's time_zone is UTC
    if type_code == _TIME:
        return pa.time64("us")
    if type_code == _BIT:
        return pa.int64()
    if type_code == _GEOMETRY:
        return pa.binary()
    if type_code in _TEXTUAL:
        return pa.binary() if charset == _BINARY_CHARSET else pa.string()
    return pa.string()  # JSON, NULL literals, anything new: text


def quote_mysql(name: str) -> str:
    """`name` -> `` `name` `` (validated plain identifier first)."""
    return f"`{validate_identifier(name)}`"


def quote_mysql_table(name: str) -> str:
    schema, table = split_table(name)
    return f"{quote_mysql(schema)}.{quote_mysql(table)}" if schema else quote_mysql(table)


def _time_of_day(v: object) -> object:
    """PyMySQL returns TIME as a timedelta (it may exceed a day or be negative)."""
    if isinstance(v, timedelta):
        if not timedelta(0) <= v < timedelta(days=1):
            raise EngineError(f"TIME value {v} is not a time of day (MySQL TIME may be a duration); cast it in the query")
        return (datetime.min + v).time()
    return v


def _bits(v: object) -> object:
    return int.from_bytes(v, "big") if isinstance(v, (bytes, bytearray)) else v


def _converter(t: pa.DataType):
    if pa.types.is_time(t):
        return _time_of_day
    if pa.types.is_integer(t):
        return _bits
    return None


def _unpad_char(db) -> None:
    """char(n) values without their blank padding, as from every source (docs/types.md).

    MySQL/MariaDB strip it unless the server's sql_mode has PAD_CHAR_TO_FULL_LENGTH; the
    session drops that mode (a parameter, so no sql_mode string is spelled out in SQL).
    """
    with db.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        modes = str(cur.fetchone()[0] or "").split(",")
        if "PAD_CHAR_TO_FULL_LENGTH" in modes:
            cur.execute("SET SESSION sql_mode = %s", (",".join(m for m in modes if m != "PAD_CHAR_TO_FULL_LENGTH"),))


class MysqlSource:
    """Reads one pipeline source from MySQL, MariaDB or Aurora MySQL."""

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = conn
        self._db = None

    def _connection(self):
        if self._db is None:
            import pymysql

            c = self.conn
            if not c.host:
                raise ConnectionConfigError(f"connection {c}: a MySQL connection needs a host")
            extra = c.extra or {}
            kwargs: dict = {}
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
            except Exception:  # a streaming result abandoned mid-way: the socket is dropped anyway
                pass
            self._db = None

    def __enter__(self) -> MysqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def selection(self, source: SqlSource, load: Load, interval: Interval) -> tuple[str, list]:
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

    def read(self, source: SqlSource, load: Load, interval: Interval) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        import pymysql

        sql, params = self.selection(source, load, interval)
        db = self._connection()
        try:
            with db.cursor() as cur:
                cur.execute(f"SELECT * FROM ({sql}) AS s LIMIT 0", tuple(params))
                fields = cur._result.fields  # the protocol's column definitions (flags, charset)
        except pymysql.MySQLError as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from None
        names = [f.name for f in fields]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise EngineError(f"source {self.conn}: duplicate column names {dups}")
        schema = pa.schema([pa.field(f.name, arrow_type(f.type_code, f.length, f.scale, f.flags, f.charsetnr)) for f in fields])
        return schema, self._stream(sql, params, schema, source.batch_size)

    def _stream(self, sql: str, params: list, schema: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
        import pymysql
        from pymysql.cursors import SSCursor

        converters = [_converter(f.type) for f in schema]
        db = self._connection()
        cur = db.cursor(SSCursor)
        finished = False
        try:
            cur.execute(sql, tuple(params))
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    break
                arrays = []
                for i, f in enumerate(schema):
                    conv = converters[i]
                    values = [r[i] for r in rows] if conv is None else [conv(r[i]) for r in rows]
                    try:
                        arrays.append(pa.array(values, type=f.type))
                    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
                        bad = next((v for v in values if isinstance(v, str) and f.type != pa.string()), None)
                        why = (
                            f" (MySQL zero date {bad!r}? select NULLIF({f.name}, '0000-00-00') or fix the data)"
                            if isinstance(bad, str) and bad.startswith("0000")
                            else ""
                        )
                        raise EngineError(
                            f"source {self.conn}: column {f.name!r}: value does not fit {f.type}: {e}{why}"
                        ) from None
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
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
