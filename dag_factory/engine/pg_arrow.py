"""PostgreSQL result -> Arrow record batches through the ADBC PostgreSQL driver.

The driver runs `COPY (query) TO STDOUT (FORMAT binary)` and parses the binary rows into
Arrow in C++: measured 1.6x faster than COPY csv parsed by pyarrow.csv, and 1.9x faster than
connectorx, with flat memory (benchmarks/bench_readers.py). Binary COPY carries exact values;
the driver hands numeric over as its exact decimal text, which Arrow casts to the declared
decimal128/256, failing rather than rounding.

The driver is pinned to 1.8.0 (setup.cfg, constraints.txt): the 1.9.0-1.13.0 wheels on PyPI
spend about twice its CPU on the same COPY (their hot helpers are not inlined; TPC-H lineitem
SF1: 7.1 s vs 3.6-4.5 s of CPU for the raw read, extract 10.7-12.7 s -> 8.0-10.4 s). What
1.9.0 fixed for reads (apache/arrow-adbc#3611: a batch whose strings pass 2 GiB failed) cannot
happen here: batches close at the driver's 16 MB size hint, and a PostgreSQL value is < 1 GB.

Type rule (documented in docs/sources.md), from the SELECT's result description:

| PostgreSQL | Arrow |
|---|---|
| bool, int2, int4, int8, float4, float8 | bool, int16, int32, int64, float32, float64 |
| oid | int64 |
| numeric(p,s) | decimal128(p,s), decimal256(p,s) when p > 38 |
| numeric (no precision) | decimal128(38,9); a value needing more digits fails the extract (never rounded, never a float) |
| date, time, timestamp, timestamptz | date32, time64[us], timestamp[us], timestamp[us, UTC] |
| text, varchar, char(n), name | string (char(n) without its blank padding, as `::text` gives it) |
| bytea | binary |
| arrays of the types above (one dimension) | list<the element's type> |
| uuid, json, jsonb, interval, enums, anything else | string: the server's text (uuid canonical, jsonb normalised, interval ISO 8601) |

Query parameters are bound client-side by psycopg (proper literal quoting), because the
driver only uses COPY for a query without parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dag_factory.engine.connections import ConnInfo
from dag_factory.errors import EngineError

# type OIDs the driver decodes to the Arrow type our schema wants; any other column whose
# schema type is a string is selected as `::text` (the server's rendering)
_TEXTS = {25, 1043, 19, 18}  # text, varchar, name, "char"
# char(n) arrives padded and loses its trailing blanks in `conform`, as `::text` would drop them
# (as MySQL returns char(n), and as docs/types.md promises: `= 'MAIL'` must match in the
# warehouse); the server's own bpchar -> text cast cost 2.1 s of server time on TPC-H lineitem
# SF1 (4 char columns), Arrow's utf8_rtrim a few hundredths
_PADDED = 1042
# one-dimensional arrays the driver decodes natively: array type OID -> the element's Arrow type
ARRAY_ELEMENTS: dict[int, pa.DataType] = {
    1000: pa.bool_(),
    1005: pa.int16(),
    1007: pa.int32(),
    1016: pa.int64(),
    1021: pa.float32(),
    1022: pa.float64(),
    1182: pa.date32(),
    1183: pa.time64("us"),
    1115: pa.timestamp("us"),
    1185: pa.timestamp("us", tz="UTC"),
    1001: pa.binary(),
    1009: pa.string(),
    1015: pa.string(),
}
_ARRAY_SQL = {1000: "bool[]", 1005: "int2[]", 1007: "int4[]", 1016: "int8[]", 1021: "float4[]", 1022: "float8[]"}
_ARRAY_SQL |= {1182: "date[]", 1183: "time[]", 1115: "timestamp[]", 1185: "timestamptz[]", 1001: "bytea[]"}
_ARRAY_SQL |= {1009: "text[]", 1015: "varchar[]"}
_OID = 26


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def outer_select(sql: str, oids: Sequence[int], schema: pa.Schema) -> str:
    """SELECT around the query so that every column reaches the driver in a form it decodes
    to `schema` exactly and fast: text for what we keep as text, int8 for oid (numeric and
    char(n) as they are: `conform` casts the driver's numeric text and drops char(n)'s padding)."""
    exprs = []
    for oid, f in zip(oids, schema, strict=True):
        col = f"s.{_quote(f.name)}"
        if pa.types.is_string(f.type) and oid not in _TEXTS and oid != _PADDED:
            col = f"{col}::text AS {_quote(f.name)}"
        elif oid == _OID:
            col = f"{col}::int8 AS {_quote(f.name)}"
        elif pa.types.is_list(f.type) and oid not in ARRAY_ELEMENTS:
            col = f"{col}::text AS {_quote(f.name)}"
        elif pa.types.is_list(f.type):
            # the driver would flatten a multi-dimensional array: make such a row fail instead,
            # with a message naming the column (the ELSE text is not a valid array literal)
            msg = f"multi-dimensional array in column {f.name}: cast it to text in the query: ".replace("'", "''")
            col = (
                f"CASE WHEN array_ndims({col}) > 1 THEN ('{msg}' || {col}::text)::{_ARRAY_SQL[oid]} "
                f"ELSE {col} END AS {_quote(f.name)}"
            )
        exprs.append(col)
    return f"SELECT {', '.join(exprs)} FROM ({sql}) AS s"


def conninfo(conn: ConnInfo, passthrough: Sequence[str]) -> str:
    """A libpq connection string (key=value, quoted) with the session settings of pgconn."""
    from psycopg.conninfo import make_conninfo

    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5432,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.database,
        "options": "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601",
    }
    for key in passthrough:
        if conn.extra.get(key) is not None:
            kwargs[key] = conn.extra[key]
    return make_conninfo("", **{k: v for k, v in kwargs.items() if v is not None})


def conform(batch: pa.RecordBatch, schema: pa.Schema, oids: Sequence[int], where: str) -> pa.RecordBatch:
    """The driver's batch in our schema: numeric arrives as the driver's text (cast exactly, or fail), char(n)
    padded (trailing blanks dropped, as PostgreSQL's own cast to text drops them).

    Apart from read_raw, so that it runs on the consumer's side of the read-ahead queue: the
    thread running the driver's parse is the extract's critical path."""
    padded = {i for i, oid in enumerate(oids) if oid == _PADDED}
    cols = []
    for i, f in enumerate(schema):
        col = batch.column(i)
        if i in padded:
            col = pc.utf8_rtrim(col, characters=" ")
        if col.type != f.type:
            if isinstance(col, pa.ExtensionArray):  # the driver tags some types (opaque, uuid, json): cast their storage
                col = col.storage
            try:
                col = pc.cast(col, f.type)  # safe cast: raises instead of rounding or overflowing
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                hint = ""
                if pa.types.is_decimal(f.type):
                    hint = f"; cast it in the query, e.g. {f.name}::numeric(38,18) or {f.name}::text"
                raise EngineError(f"{where}: column {f.name!r}: a value does not fit {f.type}: {e}{hint}") from None
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def read_raw(dsn: str, select: str, where: str) -> Iterator[pa.RecordBatch]:
    """Stream `select` (outer_select of a literal query, no parameters) as the driver's non-empty
    batches; `conform` turns each into our schema."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    try:
        con = adbc.connect(dsn)
    except adbc_driver_manager.Error as e:
        raise EngineError(f"{where}: cannot connect: {_first_line(e)}") from None
    try:
        cur = con.cursor()
        try:
            cur.execute(select)
            reader = cur.fetch_record_batch()
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except (adbc_driver_manager.Error, OSError, pa.ArrowException) as e:  # mid-stream errors come through Arrow
            raise EngineError(f"{where}: reading failed: {_first_line(e)}") from None
        finally:
            cur.close()
    finally:
        con.close()


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
