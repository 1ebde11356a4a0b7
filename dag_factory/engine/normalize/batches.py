"""Arrow batches in, Arrow batches out: the fixed schema, the interval filter, the batch size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from dag_factory.config.schedules import Interval
from dag_factory.engine.normalize.records import parse_timestamp
from dag_factory.errors import EngineError


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Re-chunk a stream into batches of exactly `size` rows (the last may be shorter).

    Slices are zero-copy; only a batch made of pieces of two incoming ones is copied, and only
    its own rows (concatenating the whole pending tail copied every row once or more: the
    driver's ~98k-row batches cut to 50k). Holds about one batch plus one incoming chunk.
    """
    if size <= 0:
        raise EngineError(f"batch_size must be positive, got {size}")
    pending: list[pa.RecordBatch] = []  # pieces of less than `size` rows in all
    n = 0
    for b in batches:
        offset = 0
        while b.num_rows - offset >= size - n:
            take = size - n
            piece = b.slice(offset, take)
            yield pa.concat_batches([*pending, piece]) if pending else piece
            offset += take
            pending, n = [], 0
        if offset < b.num_rows:
            pending.append(b.slice(offset))
            n += b.num_rows - offset
    if n:
        yield pa.concat_batches(pending) if len(pending) > 1 else pending[0]


def fit_batches(units: Iterable[tuple[str, pa.RecordBatch]], schema: pa.Schema, why: str) -> Iterator[pa.RecordBatch]:
    """Each (unit, batch) cast to `schema`; a batch that cannot be names its unit (file) and `why`."""
    for unit, b in units:
        if b.schema == schema:
            yield b
            continue
        try:
            yield b.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise EngineError(f"{unit}: does not fit {why} {_types(schema)}: {e}") from None


def parse_text_columns(
    units: Iterable[tuple[str, pa.RecordBatch]], target: pa.Schema, names: set[str]
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Columns read as text (`names`) converted to their `target` type by the record rules
    (timestamps: ISO 8601, no offset = UTC, '' = NULL); the other columns pass as read."""
    for unit, b in units:
        cols = []
        for f in target:
            col = b.column(f.name)
            if f.name in names:
                values = col.to_pylist()
                try:
                    if pa.types.is_timestamp(f.type):
                        values = [parse_timestamp(v) if v not in (None, "") else None for v in values]
                    col = pa.array(values, type=f.type)
                except (ValueError, pa.ArrowInvalid) as e:
                    raise EngineError(f"{unit}: column {f.name!r}: {e}") from None
            cols.append(col)
        yield unit, pa.RecordBatch.from_arrays(cols, schema=target)


def _types(schema: pa.Schema) -> str:
    return "{" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "}"


# -- the interval filter (incremental loads) -------------------------------------
def filter_interval(batches: Iterable[pa.RecordBatch], cursor: str, interval: Interval, where: str) -> Iterator[pa.RecordBatch]:
    """Only rows with start <= cursor < end (a NULL cursor is in no interval); naive timestamps are UTC."""
    for b in batches:
        if cursor not in b.schema.names:
            raise EngineError(f"{where}: cursor column {cursor!r} is not among the columns {b.schema.names}")
        col = b.column(cursor)
        t = col.type
        if not pa.types.is_timestamp(t):
            raise EngineError(
                f"{where}: cursor column {cursor!r} is {t}, not a timestamp; declare it under source.fields as timestamp"
            )
        lo, hi = interval.start_utc, interval.end_utc
        if t.tz is None:
            lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
        mask = pc.and_(
            pc.greater_equal(col, pa.scalar(lo, type=pa.timestamp("us", tz=t.tz))),
            pc.less(col, pa.scalar(hi, type=pa.timestamp("us", tz=t.tz))),
        )
        out = b.filter(mask)  # NULL -> dropped
        if out.num_rows:
            yield out
