"""What a reader hands to the normalize step: raw data plus what the source said about it.

Readers decide nothing about Arrow types, schemas or batch sizes; they describe their
columns as the source does (`NativeColumn`) and stream what they read in one of three
shapes. `dag_factory.engine.normalize` turns any of them into one fixed Arrow schema and
batches of the pipeline's batch_size.

A faster reader drops in by producing the same shape: e.g. a binary-COPY PostgreSQL reader
is an `ArrowStream` whose `decode` returns Arrow batches of the schema it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

Dialect = Literal["postgres", "mysql", "sqlite"]


@dataclass(frozen=True)
class NativeColumn:
    """One result column as the database describes it (normalize maps it to an Arrow type).

    postgres: type_code = type OID, precision/scale of numeric; mysql: type_code = protocol
    field type, precision = display length, flags, charset; sqlite: type_name = declared type
    (None: undeclared, inferred from the values)."""

    name: str
    dialect: Dialect
    type_code: int = 0
    type_name: str | None = None
    precision: int | None = None
    scale: int | None = None
    flags: int = 0
    charset: int = 0


@dataclass
class RowStream:
    """DB-API rows (tuples of Python values as the driver returns them), in fetchmany chunks.

    `exact`, when given, is a faster decoder of the same result that normalize tries first
    with the schema it derived from `columns`: (unit, batch) pairs in that schema, or None when
    it cannot read that schema exactly (then the rows are read; `chunks` starts nothing until
    iterated)."""

    where: str  # names the source in errors, e.g. "source src (sqlite)"
    columns: tuple[NativeColumn, ...]
    chunks: Iterator[list[tuple[Any, ...]]]
    exact: Callable[[pa.Schema], Iterator[tuple[str, pa.RecordBatch]] | None] | None = None


@dataclass
class RecordStream:
    """JSON objects (HTTP pages, JSON-lines files): no column list, the schema is declared or inferred."""

    where: str
    chunks: Iterator[tuple[str, list[Any]]]  # (unit for errors, e.g. "page 2" or "file s3://b/x.jsonl", records)
    empty: str  # the error when there is no record to infer a schema from


# decode(schema to read with, or None: the files say) -> (the schema read with, (unit, batch) pairs)
Decode = Callable[[pa.Schema | None], tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]]


@dataclass
class ArrowStream:
    """A source whose own decoder produces Arrow (PostgreSQL COPY, CSV, Parquet files).

    SQL sources list their `columns` and decode into the schema normalize derives from them;
    files list none and decode with the declared fields' read schema (or their own)."""

    where: str
    columns: tuple[NativeColumn, ...]
    decode: Decode


Raw = RowStream | RecordStream | ArrowStream
