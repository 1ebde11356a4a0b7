"""DB-API rows (SQLite, MySQL) -> Arrow columns of the schema's types.

Drivers hand back Python values in their own forms: SQLite stores dates, instants and
decimals as text or floats (naive text is UTC), PyMySQL returns TIME as a timedelta and
BIT as bytes. Each value is converted to what its Arrow type expects; a value that
cannot be names its column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from dag_factory.engine.sources.raw import Dialect
from dag_factory.errors import EngineError

Converter = Callable[[Any], Any]


# -- SQLite: loosely typed, text and floats -----------------------------------------
def _sqlite_decimal(v: object) -> Decimal:
    if isinstance(v, float):
        return Decimal(repr(v))  # the shortest repr, never the binary expansion
    if isinstance(v, (int, str)):
        return Decimal(v)
    raise TypeError(type(v).__name__)


def _sqlite_datetime(v: object, aware: bool) -> datetime:
    if not isinstance(v, str):
        raise TypeError(type(v).__name__)
    dt = datetime.fromisoformat(v.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # naive text is UTC
    dt = dt.astimezone(UTC)
    return dt if aware else dt.replace(tzinfo=None)


def _sqlite_date(v: object) -> date:
    if not isinstance(v, str):
        raise TypeError(type(v).__name__)
    return date.fromisoformat(v.strip())


def _sqlite_bool(v: object) -> bool:
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false", "t", "f", "0", "1"):
        return v.lower() in ("true", "t", "1")
    raise TypeError(repr(v))


def _sqlite_str(v: object) -> str:
    if isinstance(v, bytes):
        raise TypeError("bytes")
    return v if isinstance(v, str) else str(v)


def _sqlite_converter(t: pa.DataType) -> Converter | None:
    if pa.types.is_decimal(t):
        return _sqlite_decimal
    if pa.types.is_timestamp(t):
        aware = t.tz is not None
        return lambda v: _sqlite_datetime(v, aware)
    if pa.types.is_date(t):
        return _sqlite_date
    if pa.types.is_boolean(t):
        return _sqlite_bool
    if pa.types.is_string(t):
        return _sqlite_str
    if pa.types.is_binary(t):
        return lambda v: v.encode() if isinstance(v, str) else v
    return None  # ints/floats: pyarrow converts and checks


# -- MySQL: PyMySQL's Python types ------------------------------------------------
def _mysql_time_of_day(v: object) -> object:
    """PyMySQL returns TIME as a timedelta (it may exceed a day or be negative)."""
    if isinstance(v, timedelta):
        if not timedelta(0) <= v < timedelta(days=1):
            raise EngineError(f"TIME value {v} is not a time of day (MySQL TIME may be a duration); cast it in the query")
        return (datetime.min + v).time()
    return v


def _mysql_bits(v: object) -> object:
    return int.from_bytes(v, "big") if isinstance(v, (bytes, bytearray)) else v


def _mysql_converter(t: pa.DataType) -> Converter | None:
    if pa.types.is_time(t):
        return _mysql_time_of_day
    if pa.types.is_integer(t):
        return _mysql_bits
    return None  # dates, datetimes (naive UTC: the session's time_zone), Decimals: as PyMySQL returns them


def converter(dialect: Dialect, t: pa.DataType) -> Converter | None:
    """How a driver's value becomes one Arrow accepts for `t` (None: as it is)."""
    if dialect == "sqlite":
        return _sqlite_converter(t)
    if dialect == "mysql":
        return _mysql_converter(t)
    return None


def rows_to_batches(
    chunks: Iterator[list[tuple[Any, ...]]], schema: pa.Schema, converters: list[Converter | None], where: str
) -> Iterator[pa.RecordBatch]:
    for rows in chunks:
        arrays = [_column([r[i] for r in rows], f, converters[i], where) for i, f in enumerate(schema)]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(values: list[Any], f: pa.Field, conv: Converter | None, where: str) -> pa.Array:
    try:
        if conv is not None:
            values = [None if v is None else conv(v) for v in values]
        return pa.array(values, type=f.type)
    except (TypeError, ValueError, InvalidOperation, pa.ArrowException) as e:
        bad = next((v for v in values if isinstance(v, str) and f.type != pa.string()), None)
        why = (
            f" (MySQL zero date {bad!r}? select NULLIF({f.name}, '0000-00-00') or fix the data)"
            if isinstance(bad, str) and bad.startswith("0000")
            else ""
        )
        raise EngineError(f"{where}: column {f.name!r}: value does not fit {f.type}: {e}{why}") from e
