"""Normalize: what a reader read -> one fixed Arrow schema and batches of `batch_size` rows.

The one step that owns schema inference, declared `fields:`, the Arrow type of every
source type, the interval filter of sources that cannot filter themselves (HTTP, files)
and re-batching; readers (dag_factory.engine.sources) only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import pyarrow as pa

from dag_factory.config.model import Load, Source
from dag_factory.config.schedules import Interval
from dag_factory.engine.normalize.batches import filter_interval, fit_batches, parse_text_columns, rebatch
from dag_factory.engine.normalize.records import RecordConverter
from dag_factory.engine.normalize.rows import converter, rows_to_batches
from dag_factory.engine.normalize.types import TEXT_FIRST, declared_schema, infer_type, native_type
from dag_factory.engine.sources.base import cursor_column
from dag_factory.engine.sources.raw import ArrowStream, NativeColumn, Raw, RecordStream, RowStream
from dag_factory.errors import EngineError

Normalized = tuple[pa.Schema, Iterator[pa.RecordBatch]]


def normalize(raw: Raw, source: Source, load: Load, interval: Interval) -> Normalized:
    """The schema and the stream of batches the lake writes, for what `raw` read."""
    if isinstance(raw, RowStream):
        schema, batches = _rows(raw)
    elif isinstance(raw, RecordStream):
        schema, batches = _records(raw, source, load)
    else:
        schema, batches = _arrow(raw, source)
    cursor = cursor_column(load)
    if cursor and source.type != "sql":  # SQL sources select the interval in their query
        batches = filter_interval(batches, cursor, interval, raw.where)
    return schema, rebatch(batches, source.batch_size)


def _check_names(where: str, columns: tuple[NativeColumn, ...]) -> None:
    names = [c.name for c in columns]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise EngineError(f"{where}: duplicate column names {dups}")


def _rows(raw: RowStream) -> Normalized:
    _check_names(raw.where, raw.columns)
    types = [native_type(c) for c in raw.columns]
    chunks = raw.chunks
    if any(t is None for t in types):  # undeclared (SQLite): the first chunk's values decide
        first = next(chunks, [])
        chunks = chain([first] if first else [], chunks)
        types = [t if t is not None else infer_type([r[i] for r in first]) for i, t in enumerate(types)]
    schema = pa.schema([pa.field(c.name, t) for c, t in zip(raw.columns, types, strict=True)])
    units = raw.exact(schema) if raw.exact is not None else None
    if units is not None:  # the reader's own Arrow decoder reads this schema exactly
        return schema, (b for _, b in units)
    converters = [converter(c.dialect, f.type) for c, f in zip(raw.columns, schema, strict=True)]
    return schema, rows_to_batches(chunks, schema, converters, raw.where)


def _records(raw: RecordStream, source: Source, load: Load) -> Normalized:
    fields = source.fields if source.type != "sql" else ()
    convert = RecordConverter(raw.where, fields, cursor_column(load))
    chunks = ((unit, records) for unit, records in raw.chunks if records)
    first: list[pa.RecordBatch] = []
    if convert.schema is None:  # infer from the first non-empty page or file
        for unit, records in chunks:
            first.append(convert.batch(records, unit))
            break
        else:
            raise EngineError(raw.empty)
    assert convert.schema is not None

    def stream() -> Iterator[pa.RecordBatch]:
        yield from first
        for unit, records in chunks:
            yield convert.batch(records, unit)

    return convert.schema, stream()


def _arrow(raw: ArrowStream, source: Source) -> Normalized:
    if raw.columns:  # a database: its column types decide, the reader decodes into them
        _check_names(raw.where, raw.columns)
        schema = pa.schema([pa.field(c.name, native_type(c) or pa.string()) for c in raw.columns])
        _, units = raw.decode(schema)
        return schema, (b for _, b in units)
    fields = source.fields if source.type != "sql" else ()
    if fields:  # declared: read timestamps and JSON as text, convert them by the record rules
        target = declared_schema(fields)
        text = {n for n, t in fields if t in TEXT_FIRST}
        read = pa.schema([pa.field(f.name, pa.string() if f.name in text else f.type) for f in target])
        _, units = raw.decode(read)
        if text:
            units = parse_text_columns(units, target, text)
        return target, fit_batches(units, target, "the declared types")
    schema, units = raw.decode(None)  # the first file's types; later files must fit them
    return schema, fit_batches(units, schema, "the first file's types")
