"""MySQL / MariaDB result -> Arrow record batches through connectorx (Rust), when it is exact.

connectorx reads the result straight into Arrow: measured 5.8x faster than PyMySQL's
unbuffered cursor feeding pa.array (benchmarks/bench_readers.py: TPC-H lineitem), with
flat memory. It is exact for what our schema holds except wide decimals: it decodes
DECIMAL through a 28-digit decimal and hands out decimal128(38,10). So it is used only when
every DECIMAL column has precision <= 28 and scale <= 10, no `ssl` is configured (it takes no
TLS settings from a URL we control) and no column is of a type it does not read (GEOMETRY).
Otherwise the source keeps PyMySQL. Its batches are cast to our schema with safe casts
(unsigned -> the wider signed type or decimal(20,0), TIMESTAMP read in a UTC session -> UTC),
which raise rather than round.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from dag_factory.engine.connections import ConnInfo
from dag_factory.errors import ConnectionConfigError, EngineError

_MAX_PRECISION, _MAX_SCALE = 28, 10
_GEOMETRY, _BIT = 255, 16
READERS = ("auto", "pymysql")  # the connection's extra.reader


def eligible(conn: ConnInfo, schema: pa.Schema, type_codes: list[int]) -> bool:
    """Whether connectorx reads this result exactly (else: PyMySQL). A connection whose
    extra.reader is "pymysql" never uses it: PyMySQL reads only as fast as the lake write goes,
    where connectorx reads ahead without a bound (docs/sources.md)."""
    extra = conn.extra or {}
    reader = extra.get("reader", "auto")
    if reader not in READERS:
        raise ConnectionConfigError(f"connection {conn}: extra.reader must be one of {', '.join(READERS)}, not {reader!r}")
    if reader == "pymysql" or extra.get("ssl") or extra.get("charset", "utf8mb4") != "utf8mb4":
        return False
    if any(code == _GEOMETRY for code in type_codes):
        return False
    for f in schema:
        if pa.types.is_decimal(f.type) and f.type.byte_width == 16 and f.type.precision == 20 and f.type.scale == 0:
            continue  # BIGINT UNSIGNED (uint64 in connectorx, cast exactly)
        if pa.types.is_decimal(f.type) and (f.type.precision > _MAX_PRECISION or f.type.scale > _MAX_SCALE):
            return False
    return True


def url(conn: ConnInfo) -> str:
    user = quote(conn.login or "", safe="")
    pw = quote(conn.password or "", safe="")
    return f"mysql://{user}:{pw}@{conn.host}:{int(conn.port or 3306)}/{quote(conn.database or '', safe='')}"


def _bits(col: pa.Array) -> pa.Array:
    """BIT(n) arrives as big-endian bytes."""
    return pa.array([None if v is None else int.from_bytes(v, "big") for v in col.to_pylist()], pa.int64())


def conform(batch: pa.RecordBatch, schema: pa.Schema, type_codes: list[int], where: str) -> pa.RecordBatch:
    """connectorx's batch in our schema (exact casts, BIT bytes to ints), in the consumer's
    thread: connectorx's own parsing thread is the extract's critical path."""
    bits = {i for i, code in enumerate(type_codes) if code == _BIT}
    cols = []
    for i, f in enumerate(schema):
        col = batch.column(i)
        if i in bits:
            col = _bits(col)
        if col.type != f.type:
            try:
                col = pc.cast(col, f.type)  # safe: raises instead of rounding or overflowing
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise EngineError(f"{where}: column {f.name!r}: a value does not fit {f.type}: {e}") from None
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def read_raw(conn: ConnInfo, sql: str, batch_size: int, where: str, session: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream `sql` (a literal query: bind parameters client-side first) as connectorx's non-empty
    batches (`conform` turns each into our schema); `session` statements run first on
    connectorx's connection (the source's sql_mode)."""
    import connectorx as cx

    try:
        reader = cx.read_sql(
            url(conn),
            sql,
            return_type="arrow_stream",
            batch_size=batch_size,
            # TIMESTAMP in UTC, as the PyMySQL path
            pre_execution_query=["SET time_zone = '+00:00'", *(session or [])],
        )
        for batch in reader:
            if batch.num_rows:
                yield batch
    except BaseException as e:  # connectorx raises RuntimeError, or a Rust panic (BaseException)
        if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if conn.password:
            msg = msg.replace(conn.password, "***").replace(quote(conn.password, safe=""), "***")
        raise EngineError(f"{where}: reading failed (connectorx): {msg}") from None
