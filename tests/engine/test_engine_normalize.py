"""The normalize step on its own: raw streams as readers hand them over, in the three shapes.

The readers themselves are tested against real servers (test_engine_types, _mysql_source,
_http_source, _file_source); here the input is built by hand to pin what normalize promises
a new reader (issue 15's binary COPY reader is an ArrowStream like the one below)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from dag_factory.config.model import HttpSource, Load, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.normalize import normalize
from dag_factory.engine.normalize.batches import rebatch
from dag_factory.engine.sources.raw import ArrowStream, NativeColumn, RecordStream, RowStream
from dag_factory.errors import EngineError

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))


def test_rows_get_declared_types_and_exact_batch_sizes():
    cols = (
        NativeColumn("id", "sqlite", type_name="INTEGER"),
        NativeColumn("amount", "sqlite", type_name="NUMERIC(12,2)"),
        NativeColumn("at", "sqlite", type_name="TIMESTAMPTZ"),
        NativeColumn("note", "sqlite"),  # undeclared: the first chunk's values decide
    )
    rows = [(i, "1.10" if i % 2 else 2.5, "2024-03-01 12:00:00+02:00", None if i == 1 else i * 10) for i in range(1, 8)]
    chunks = iter([rows[:2], rows[2:3], rows[3:]])  # however the reader chunks, batches come out at batch_size
    schema, batches = normalize(RowStream("src", cols, chunks), SqlSource("src", table="t", batch_size=3), Load("snapshot"), IV)
    out = list(batches)
    assert [b.num_rows for b in out] == [3, 3, 1]
    assert schema.types == [pa.int64(), pa.decimal128(12, 2), pa.timestamp("us", tz="UTC"), pa.int64()]
    first = out[0].to_pylist()[0]
    assert first["amount"] == Decimal("1.10") and first["at"] == datetime(2024, 3, 1, 10, tzinfo=UTC) and first["note"] is None


def test_duplicate_column_names_are_refused_before_reading():
    cols = (NativeColumn("id", "mysql", 3), NativeColumn("id", "mysql", 3))

    def never() -> Iterator[list[tuple]]:
        raise AssertionError("read before the columns were checked")
        yield []

    with pytest.raises(EngineError, match=r"src: duplicate column names \['id'\]"):
        normalize(RowStream("src", cols, never()), SqlSource("src", table="t"), Load("snapshot"), IV)


def test_an_arrow_reader_decodes_into_the_schema_normalize_derives_from_its_columns():
    cols = (
        NativeColumn("amount", "postgres", 1700, precision=12, scale=2),
        NativeColumn("at", "postgres", 1184),
        NativeColumn("code", "postgres", 1042),
    )
    asked: list[pa.Schema | None] = []

    def decode(schema: pa.Schema | None) -> tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]:
        asked.append(schema)
        assert schema is not None
        rows = [{"amount": Decimal("1.25"), "at": datetime(2024, 3, 1, tzinfo=UTC), "code": "MAIL"}] * 5
        return schema, iter([("src", pa.RecordBatch.from_pylist(rows, schema=schema))])

    schema, batches = normalize(
        ArrowStream("src", cols, decode), SqlSource("src", table="t", batch_size=2), Load("full_refresh"), IV
    )
    assert asked == [schema]
    assert schema.types == [pa.decimal128(12, 2), pa.timestamp("us", tz="UTC"), pa.string()]
    assert [b.num_rows for b in batches] == [2, 2, 1]


def test_records_without_any_record_name_the_readers_reason():
    source = HttpSource("api", endpoint="/v1/x")
    raw = RecordStream("GET /v1/x", iter([("page 1", [])]), empty="GET /v1/x: no records, declare source.fields")
    with pytest.raises(EngineError, match="GET /v1/x: no records, declare source.fields"):
        normalize(raw, source, Load("full_refresh"), IV)


def test_records_are_filtered_to_the_interval_by_their_cursor():
    source = HttpSource("api", endpoint="/v1/x", fields=(("id", "integer"), ("at", "timestamp")))
    pages = [("page 1", [{"id": 1, "at": "2024-02-29T23:59:59Z"}, {"id": 2, "at": "2024-03-01T00:00:00"}]),
             ("page 2", [{"id": 3, "at": "2024-03-02T00:00:00Z"}, {"id": 4, "at": None}])]  # fmt: skip
    raw = RecordStream("GET /v1/x", iter(pages), empty="none")
    _, batches = normalize(raw, source, Load("incremental", cursor="at"), IV)
    assert [r["id"] for b in batches for r in b.to_pylist()] == [2]


@pytest.mark.parametrize("size", [1, 3, 7, 50])
@pytest.mark.parametrize(
    "chunks",
    [[], [0], [5], [50], [49, 1], [3, 0, 4, 97, 2, 50, 51, 1], [100, 100, 100], [1] * 120, [7, 7, 7, 7, 7, 7, 7, 7]],
)
def test_rebatch_cuts_any_chunking_into_exact_sizes_keeping_every_row_in_order(chunks: list[int], size: int):
    values = pa.array(range(sum(chunks)), pa.int64())
    batches, at = [], 0
    for n in chunks:
        batches.append(pa.record_batch([values.slice(at, n)], names=["i"]))
        at += n
    out = list(rebatch(iter(batches), size))
    assert all(b.num_rows == size for b in out[:-1])
    assert not out or 0 < out[-1].num_rows <= size
    assert pa.Table.from_batches(out, schema=pa.schema([("i", pa.int64())])).column("i").to_pylist() == values.to_pylist()
