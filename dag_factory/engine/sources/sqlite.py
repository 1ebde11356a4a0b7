"""SQLite source: DB-API `fetchmany` over a read-only connection.

SQLite is loosely typed, so the Arrow type of each column comes from its
declared type (PRAGMA table_info; for queries via a TEMP VIEW); undeclared
columns are inferred from the first batch of values.

Time semantics: naive DATETIME/TIMESTAMP text is taken to be UTC. Incremental
reads compare `julianday(cursor)` with `julianday(bound)`, the bounds being UTC
ISO strings, so text with and without offsets compares by instant (SQLite keeps
millisecond precision in that comparison).
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa

from dag_factory.config.model import Load, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident, split_table
from dag_factory.engine.sources.base import (
    base_select,
    cursor_column,
    render_query,
    template_values,
    template_values_names,
    utc_naive_text,
)
from dag_factory.errors import ConnectionConfigError, EngineError

_DECIMAL = re.compile(r"(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
UNCONSTRAINED_DECIMAL = pa.decimal128(38, 9)


def declared_arrow_type(declared: str | None) -> pa.DataType | None:
    """Arrow type for a declared SQLite column type; None = undeclared (infer)."""
    t = (declared or "").strip().upper()
    if not t:
        return None
    if "BOOL" in t:
        return pa.bool_()
    if "TIMESTAMPTZ" in t or "WITH TIME ZONE" in t:
        return pa.timestamp("us", tz="UTC")
    if "DATETIME" in t or "TIMESTAMP" in t:
        return pa.timestamp("us")
    if "DATE" in t:
        return pa.date32()
    if "INT" in t:
        return pa.int64()
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return pa.string()
    if "BLOB" in t:
        return pa.binary()
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return pa.float64()
    if "NUMERIC" in t or "DECIMAL" in t:
        m = _DECIMAL.search(t)
        if not m:
            return UNCONSTRAINED_DECIMAL
        p, s = int(m.group(1)), int(m.group(2) or 0)
        return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
    return pa.string()


def infer_arrow_type(values: list) -> pa.DataType:
    """Arrow type for an undeclared column from its first values."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string()
    if kinds == {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    if kinds == {bytes}:
        return pa.binary()
    return pa.string()


def _to_decimal(v: object) -> Decimal:
    if isinstance(v, float):
        return Decimal(repr(v))  # the shortest repr, never the binary expansion
    if isinstance(v, (int, str)):
        return Decimal(v)
    raise TypeError(type(v).__name__)


def _to_datetime(v: object, aware: bool) -> datetime:
    if not isinstance(v, str):
        raise TypeError(type(v).__name__)
    dt = datetime.fromisoformat(v.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # naive text is UTC
    dt = dt.astimezone(UTC)
    return dt if aware else dt.replace(tzinfo=None)


def _to_date(v: object) -> date:
    if not isinstance(v, str):
        raise TypeError(type(v).__name__)
    return date.fromisoformat(v.strip())


def _to_bool(v: object) -> bool:
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false", "t", "f", "0", "1"):
        return v.lower() in ("true", "t", "1")
    raise TypeError(repr(v))


def _to_str(v: object) -> str:
    if isinstance(v, bytes):
        raise TypeError("bytes")
    return v if isinstance(v, str) else str(v)


def _value_converter(t: pa.DataType) -> Callable[[object], object] | None:
    if pa.types.is_decimal(t):
        return _to_decimal
    if pa.types.is_timestamp(t):
        aware = t.tz is not None
        return lambda v: _to_datetime(v, aware)
    if pa.types.is_date(t):
        return _to_date
    if pa.types.is_boolean(t):
        return _to_bool
    if pa.types.is_string(t):
        return _to_str
    if pa.types.is_binary(t):
        return lambda v: v.encode() if isinstance(v, str) else v
    return None  # ints/floats: pyarrow converts and checks


def to_arrow_column(values: list, t: pa.DataType, name: str) -> pa.Array:
    """Convert one column of Python values, naming the column on failure."""
    conv = _value_converter(t)
    try:
        if conv is not None:
            values = [None if v is None else conv(v) for v in values]
        return pa.array(values, type=t)
    except (TypeError, ValueError, InvalidOperation, pa.ArrowException) as e:
        raise EngineError(f"column {name!r}: value cannot be read as {t}: {e}") from e


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

    def selection(self, source: SqlSource, load: Load, interval: Interval) -> tuple[str, list]:
        values = template_values(interval)
        values = {k: utc_naive_text(v) if isinstance(v, datetime) else v for k, v in values.items()}
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

    def read(self, source: SqlSource, load: Load, interval: Interval) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        declared = self._declared_types(source, load)
        sql, params = self.selection(source, load, interval)
        cur = self._connection().cursor()
        try:
            cur.execute(sql, params)
            first = cur.fetchmany(source.batch_size)
        except sqlite3.Error as e:
            raise EngineError(f"source {self.conn}: cannot run the selection: {e}") from e
        names = [d[0] for d in cur.description]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise EngineError(f"source {self.conn}: duplicate column names {dups}")
        decl = dict(declared)
        types = []
        for i, n in enumerate(names):
            t = declared_arrow_type(decl.get(n))
            types.append(t if t is not None else infer_arrow_type([r[i] for r in first]))
        schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])

        def batches() -> Iterator[pa.RecordBatch]:
            rows = first
            while rows:
                cols = [to_arrow_column([r[i] for r in rows], f.type, f.name) for i, f in enumerate(schema)]
                yield pa.RecordBatch.from_arrays(cols, schema=schema)
                rows = cur.fetchmany(source.batch_size)
            cur.close()

        return schema, batches()
