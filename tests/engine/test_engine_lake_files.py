"""What a lake file looks like inside (engine/lake.py parquet_writer, which the local and the S3
lake share), written through a local lake and read back with pyarrow's own metadata, never
through our reader."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dag_factory.engine.lake import LocalLake


def _partition(tmp_path: Path, rows: int) -> pq.ParquetFile:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("price", pa.decimal128(12, 2)),
            ("status", pa.string()),
            ("comment", pa.string()),
            ("blob", pa.binary()),
        ]
    )
    batch = pa.record_batch(
        [
            pa.array(range(rows), pa.int64()),
            pa.array([Decimal(i % 1000) / 100 for i in range(rows)], pa.decimal128(12, 2)),
            pa.array(["new", "paid", "shipped"] * (rows // 3) + ["new"] * (rows % 3)),
            pa.array([f"comment number {i} with some words" for i in range(rows)]),
            pa.array([str(i).encode() for i in range(rows)], pa.binary()),
        ],
        schema=schema,
    )
    info = LocalLake(tmp_path).write_partition("raw/t", "2024-03-01", schema, [batch])
    (part,) = sorted(Path(info.location).glob("part-*.parquet"))
    return pq.ParquetFile(part)


def test_statistics_only_where_pruning_uses_them(tmp_path: Path) -> None:
    """min/max kept on numbers (keys, amounts); strings and bytes carry none (their cost, no use)."""
    meta = _partition(tmp_path, 30_000).metadata.row_group(0)
    stats = {meta.column(i).path_in_schema: meta.column(i).statistics for i in range(meta.num_columns)}
    assert (stats["id"].min, stats["id"].max) == (0, 29_999)
    assert stats["price"].has_min_max
    assert stats["status"] is None and stats["comment"] is None and stats["blob"] is None


def _dictionary_page_bytes(column: pq.ColumnChunkMetaData) -> int:
    return column.data_page_offset - column.dictionary_page_offset


def test_many_distinct_strings_leave_the_dictionary_early(tmp_path: Path) -> None:
    """A column of all-distinct strings stops growing its dictionary at 64 KiB (pyarrow's default
    is 1 MiB, which this column's ~350 KB would fit whole); a three-value column stays a
    dictionary; every value reads back."""
    f = _partition(tmp_path, 10_000)
    ours = {f.metadata.row_group(0).column(i).path_in_schema: f.metadata.row_group(0).column(i) for i in range(5)}
    pq.write_table(f.read(columns=["comment"]), tmp_path / "default.parquet", compression="snappy")
    default = pq.ParquetFile(tmp_path / "default.parquet").metadata.row_group(0).column(0)
    assert ours["comment"].has_dictionary_page and default.has_dictionary_page
    assert _dictionary_page_bytes(ours["comment"]) * 3 < _dictionary_page_bytes(default)
    assert ours["status"].has_dictionary_page and _dictionary_page_bytes(ours["status"]) < 100
    table = f.read()
    assert table.num_rows == 10_000
    assert table.column("comment").to_pylist()[-1] == "comment number 9999 with some words"
