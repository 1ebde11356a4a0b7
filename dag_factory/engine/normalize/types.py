"""Arrow types: of declared `fields:` and of each database's column descriptions.

One place decides what every source type becomes, so a value reaches the lake with the
same Arrow type whichever source it came from (decimals stay decimals, instants are
timestamps with tz UTC, wall-clock times are naive timestamps).
"""

from __future__ import annotations

import re

import pyarrow as pa

from dag_factory.engine.pg_arrow import ARRAY_ELEMENTS as PG_ARRAY_ELEMENTS
from dag_factory.engine.sources.raw import NativeColumn
from dag_factory.errors import EngineError

# -- declared fields (HTTP and file sources) ---------------------------------------
_DECLARED_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")
FIELD_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}
TIMESTAMP = FIELD_TYPES["timestamp"]
# declared types a CSV is read as text first, then converted by the record rules
# (CSV timestamps may or may not carry an offset; no offset = UTC)
TEXT_FIRST = ("timestamp", "json")


def field_type(name: str) -> pa.DataType:
    """Arrow type of a declared field type name (`integer`, `decimal(12,2)`, ...)."""
    if name in FIELD_TYPES:
        return FIELD_TYPES[name]
    m = _DECLARED_DECIMAL.match(name)
    if m and 0 < int(m.group(1)) <= 38 and int(m.group(2)) <= int(m.group(1)):
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    raise EngineError(f"unknown field type {name!r} (string, integer, number, boolean, date, timestamp, json, decimal(P,S))")


def declared_schema(fields: tuple[tuple[str, str], ...]) -> pa.Schema:
    return pa.schema([pa.field(n, field_type(t)) for n, t in fields])


# -- PostgreSQL: type OID (numeric needs its typmod) -------------------------------
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),  # oid
    700: pa.float32(),
    701: pa.float64(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
_PG_NUMERIC, _PG_BYTEA = 1700, 17
UNCONSTRAINED_NUMERIC = pa.decimal128(38, 9)


def postgres_type(type_oid: int, precision: int | None, scale: int | None) -> pa.DataType:
    """Arrow type for one result column; unknown types travel as text."""
    if type_oid == _PG_NUMERIC:
        if precision is None:
            # Unconstrained numeric: values that need more scale raise, never round.
            return UNCONSTRAINED_NUMERIC
        if precision <= 38:
            return pa.decimal128(precision, scale or 0)
        return pa.decimal256(precision, scale or 0)
    if type_oid == _PG_BYTEA:
        return pa.binary()
    if type_oid in PG_ARRAY_ELEMENTS:  # one-dimensional arrays the reader decodes natively
        return pa.list_(PG_ARRAY_ELEMENTS[type_oid])
    return _PG_TYPES.get(type_oid, pa.string())


# -- MySQL / MariaDB: protocol field types (pymysql.constants.FIELD_TYPE, spelled out) --
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


def mysql_type(type_code: int, length: int, scale: int, flags: int, charset: int) -> pa.DataType:
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


# -- SQLite: the declared column type (affinity rules), else the values ------------
_SQLITE_DECIMAL = re.compile(r"(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
UNCONSTRAINED_DECIMAL = pa.decimal128(38, 9)


def sqlite_type(declared: str | None) -> pa.DataType | None:
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
        m = _SQLITE_DECIMAL.search(t)
        if not m:
            return UNCONSTRAINED_DECIMAL
        p, s = int(m.group(1)), int(m.group(2) or 0)
        return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
    return pa.string()


def infer_type(values: list[object]) -> pa.DataType:
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


def native_type(col: NativeColumn) -> pa.DataType | None:
    """The Arrow type of a database column; None = infer it from the values (SQLite, undeclared)."""
    if col.dialect == "postgres":
        return postgres_type(col.type_code, col.precision, col.scale)
    if col.dialect == "mysql":
        return mysql_type(col.type_code, col.precision or 0, col.scale or 0, col.flags, col.charset)
    return sqlite_type(col.type_name)
