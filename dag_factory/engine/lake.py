"""The lake: one Parquet partition per pipeline and data date, swapped in atomically.

A partition is `<root>/<path>/ds=YYYY-MM-DD/part-NNNNN.parquet`. It is written
into a hidden temp sibling and renamed into place, so a reader (or the load step)
sees the previous partition or the complete new one, never a half-written one.
An empty extract still writes one zero-row file carrying the schema, so "no rows
that day" is distinguishable from "never extracted".
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from dag_factory.engine.connections import ConnInfo
from dag_factory.errors import ConnectionConfigError, EngineError

ROWS_PER_FILE = 1_000_000
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")


# how a warehouse takes a partition (capabilities.loads_from) and what a lake can give (Lake.serves):
# rows streamed through the worker, a published S3 partition the warehouse reads itself, or
# the local Parquet files of the partition (DuckDB reads them with its own parallel reader)
LoadsFrom = Literal["stream", "s3_partition", "local_files"]


@dataclass(frozen=True)
class PartitionInfo:
    rows: int
    files: int
    location: str


@dataclass(frozen=True)
class S3Partition:
    """A published S3 partition, as warehouses that read the lake themselves need it
    (Redshift COPY: the manifest; Athena: the locations)."""

    bucket: str
    ds: str
    table_location: str  # s3://bucket/<prefix>/<path>/ : the root of all ds= partitions
    location: str  # s3://bucket/.../ds=YYYY-MM-DD/  (the prefix: what Athena registers)
    manifest_url: str  # s3://bucket/.../_manifests/ds=YYYY-MM-DD.json (Redshift COPY ... MANIFEST)
    files: tuple[str, ...]  # s3:// URLs of the data files, in order
    rows: int
    schema: pa.Schema
    run: str  # the token of the run that published it


@dataclass(frozen=True)
class LocalPartition:
    """A local lake partition's files, for a warehouse that reads Parquet itself (DuckDB):
    one INSERT ... SELECT over its own reader, no rows through Python."""

    files: tuple[str, ...]
    rows: int
    schema: pa.Schema


class Lake(Protocol):
    """What the engine asks of a lake (LocalLake, lake_s3.S3Lake)."""

    serves: tuple[LoadsFrom, ...]

    def write_partition(self, path: str, ds: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo: ...

    def has_partition(self, path: str, ds: str) -> bool: ...

    def read_partition(self, path: str, ds: str, batch_size: int = 65_536) -> pa.RecordBatchReader: ...

    def partition(self, path: str, ds: str) -> S3Partition:
        """The published partition for warehouses that read it themselves (when serves has s3_partition)."""
        ...

    def local_partition(self, path: str, ds: str) -> LocalPartition:
        """The partition's local files for warehouses that read Parquet themselves (when serves has local_files)."""
        ...

    def clear_parts(self, path: str, ds: str) -> None:
        """Parallel extraction: drop an earlier run's parts of `ds` (before the parts are written)."""
        ...

    def write_part(self, path: str, ds: str, index: int, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo:
        """One part's files, invisible to readers; a retry of the same part replaces them."""
        ...

    def commit_parts(self, path: str, ds: str, parts: int) -> PartitionInfo:
        """Publish parts 0..parts-1 as the partition `ds`, atomically."""
        ...


def parquet_writer(where: str | Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A lake file's writer. Snappy: what every engine reads (Redshift COPY, Athena), ~2x faster
    than zstd. Dictionary pages capped at 64 KiB, so a column with many distinct values falls
    back to plain encoding early instead of first filling a 1 MiB dictionary; min/max statistics
    only for non-string columns (what row-group pruning on keys, dates and cursors uses).
    Together they take a third off the writer's CPU (TPC-H SF1: lineitem 3.45 -> 2.18 s,
    orders 0.58 -> 0.38 s) and make the files 6-10% smaller."""
    stats = [
        f.name
        for f in schema
        if not (
            pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or pa.types.is_binary(f.type)
            or pa.types.is_large_binary(f.type)
        )
    ]
    return pq.ParquetWriter(where, schema, compression="snappy", dictionary_pagesize_limit=64 * 1024, write_statistics=stats)


def validate_lake_path(path: str) -> str:
    """A relative path of plain segments: no '..', no absolute paths, no hidden names."""
    if not isinstance(path, str) or not path or path.startswith(("/", "\\")) or "\\" in path:
        raise EngineError(f"invalid lake path {path!r}: must be a relative path like 'sales/orders'")
    for seg in path.split("/"):
        if seg in ("", ".", "..") or not _SEGMENT.match(seg):
            raise EngineError(
                f"invalid lake path {path!r}: segment {seg!r} not allowed "
                "(letters, digits, '_', '-', '.', '='; no '..' or hidden names)"
            )
    return path


def validate_ds(ds: str) -> str:
    """A partition key: YYYY-MM-DD, or YYYY-MM-DDTHHMM for intervals shorter than a day."""
    day, _, clock = ds.partition("T")
    try:
        if date.fromisoformat(day).isoformat() != day or (clock and not (len(clock) == 4 and clock.isdigit())):
            raise ValueError
    except (TypeError, ValueError):
        raise EngineError(f"invalid partition {ds!r}: expected YYYY-MM-DD or YYYY-MM-DDTHHMM") from None
    return ds


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(tmp: Path, final: Path, token: str) -> None:
    """Rename the finished folder `tmp` into `final`, keeping the previous one until then."""
    parent = final.parent
    old = parent / f".old-{final.name}-{token}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    _fsync(parent)
    shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links: copy (the parts stay until the swap)
        shutil.copyfile(src, dst)


class LocalLake:
    """A lake in a local (or mounted) folder."""

    serves: tuple[LoadsFrom, ...] = ("local_files", "stream")

    def __init__(self, root: str | os.PathLike[str], rows_per_file: int = ROWS_PER_FILE) -> None:
        self.root = Path(root)
        self.rows_per_file = rows_per_file

    @classmethod
    def from_conn(cls, conn: ConnInfo) -> LocalLake:
        root = conn.extra.get("path") or conn.host
        if not root:
            raise ConnectionConfigError(f"connection {conn}: fs lake needs a root folder (extra.path or host)")
        return cls(root)

    def partition_dir(self, path: str, ds: str) -> Path:
        return self.root / validate_lake_path(path) / f"ds={validate_ds(ds)}"

    def _recover(self, final: Path) -> None:
        """Finish what a writer killed mid-swap left: put the previous partition back
        if the new one never got its name, and drop abandoned temp folders.
        (One writer per partition at a time: the generator's max_active_runs=1.)"""
        parent = final.parent
        if not parent.is_dir():
            return
        olds = sorted(parent.glob(f".old-{final.name}-*"), key=lambda p: p.stat().st_mtime)
        if olds and not final.exists():
            os.rename(olds.pop(), final)
        for stale in olds + list(parent.glob(f".tmp-{final.name}-*")):
            shutil.rmtree(stale, ignore_errors=True)

    def write_partition(self, path: str, ds: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo:
        """Write all batches as the partition for `ds`, replacing any previous one atomically."""
        final = self.partition_dir(path, ds)
        parent = final.parent
        parent.mkdir(parents=True, exist_ok=True)
        self._recover(final)
        token = uuid.uuid4().hex[:12]
        tmp = parent / f".tmp-{final.name}-{token}"
        tmp.mkdir()
        rows = files = 0
        try:
            rows, files = self._write_files(tmp, schema, batches)
            _fsync(tmp)
            _swap(tmp, final, token)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return PartitionInfo(rows=rows, files=files, location=str(final))

    # -- parallel extraction: several writers, one atomic publish (engine/parallel.py) --
    def parts_dir(self, path: str, ds: str) -> Path:
        final = self.partition_dir(path, ds)
        return final.parent / f".parts-{final.name}"

    def clear_parts(self, path: str, ds: str) -> None:
        """Forget the parts of an earlier run of this partition (a re-run starts afresh)."""
        shutil.rmtree(self.parts_dir(path, ds), ignore_errors=True)

    def write_part(self, path: str, ds: str, index: int, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo:
        """Write one part's files beside the partition, replacing an earlier attempt of the
        same part atomically; nothing a reader sees changes until commit_parts."""
        home = self.parts_dir(path, ds)
        home.mkdir(parents=True, exist_ok=True)
        final = home / f"p{index:04d}"
        for stale in [*home.glob(f".tmp-{final.name}-*"), *home.glob(f".old-{final.name}-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        token = uuid.uuid4().hex[:12]
        tmp = home / f".tmp-{final.name}-{token}"
        tmp.mkdir()
        try:
            rows, files = self._write_files(tmp, schema, batches)
            for f in sorted(tmp.glob("part-*.parquet")):  # names unique across parts
                f.rename(tmp / f"part-p{index:04d}-{f.name[5:]}")
            _fsync(tmp)
            _swap(tmp, final, token)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return PartitionInfo(rows=rows, files=files, location=str(final))

    def commit_parts(self, path: str, ds: str, parts: int) -> PartitionInfo:
        """Publish parts 0..parts-1 as the partition, atomically (the previous partition stays
        until the rename). The part files are hard-linked, so a commit killed midway is redone."""
        final = self.partition_dir(path, ds)
        home = self.parts_dir(path, ds)
        missing = [i for i in range(parts) if not (home / f"p{i:04d}").is_dir()]
        if missing:
            raise EngineError(
                f"lake partition {path}/ds={ds}: parts {[i + 1 for i in missing]} of {parts} were not written; "
                "run their extract first"
            )
        files = sorted(f for i in range(parts) for f in (home / f"p{i:04d}").glob("part-*.parquet"))
        schema, rows = None, 0
        for f in files:
            with pq.ParquetFile(f) as pf:
                if schema is not None and pf.schema_arrow != schema:
                    raise EngineError(f"lake part file {f} has a different schema than {files[0]}")
                schema, rows = pf.schema_arrow, rows + pf.metadata.num_rows
        self._recover(final)
        token = uuid.uuid4().hex[:12]
        tmp = final.parent / f".tmp-{final.name}-{token}"
        tmp.mkdir()
        try:
            for f in files:
                _link_or_copy(f, tmp / f.name)
            _fsync(tmp)
            _swap(tmp, final, token)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(home, ignore_errors=True)
        return PartitionInfo(rows=rows, files=len(files), location=str(final))

    def _write_files(self, folder: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> tuple[int, int]:
        rows = 0
        files = 0
        writer: pq.ParquetWriter | None = None
        in_file = 0

        def new_writer() -> pq.ParquetWriter:
            nonlocal files
            name = folder / f"part-{files:05d}.parquet"
            files += 1
            return parquet_writer(name, schema)

        def close(w: pq.ParquetWriter) -> None:
            w.close()
            _fsync(folder / f"part-{files - 1:05d}.parquet")

        try:
            for batch in batches:
                if batch.schema != schema:
                    raise EngineError(f"batch schema differs from the declared schema:\n{batch.schema}\nvs\n{schema}")
                offset = 0
                while offset < batch.num_rows:
                    if writer is None or in_file >= self.rows_per_file:
                        if writer is not None:
                            close(writer)
                        writer = new_writer()
                        in_file = 0
                    take = min(batch.num_rows - offset, self.rows_per_file - in_file)
                    writer.write_batch(batch.slice(offset, take))
                    offset += take
                    in_file += take
                    rows += take
            if writer is None:  # empty extract: one valid file with the schema
                writer = new_writer()
            close(writer)
            writer = None
        finally:
            if writer is not None:
                writer.close()
        return rows, files

    def has_partition(self, path: str, ds: str) -> bool:
        return self.partition_dir(path, ds).is_dir()

    def partition(self, path: str, ds: str) -> S3Partition:
        raise ConnectionConfigError(f"lake {self.root} is a local folder; this target reads an S3 lake itself")

    def local_partition(self, path: str, ds: str) -> LocalPartition:
        """The partition's files (same schema checked), for a warehouse that reads them itself."""
        folder = self.partition_dir(path, ds)
        self._recover(folder)
        parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
        if not parts:
            raise EngineError(f"lake partition {path}/ds={ds} not found under {self.root}; run extract for {ds} first")
        schema, rows = None, 0
        for part in parts:
            with pq.ParquetFile(part) as f:
                if schema is not None and f.schema_arrow != schema:
                    raise EngineError(f"lake file {part} has a different schema than {parts[0]}")
                schema = f.schema_arrow
                rows += f.metadata.num_rows
        assert schema is not None
        return LocalPartition(tuple(str(p) for p in parts), rows, schema)

    def read_partition(self, path: str, ds: str, batch_size: int = 65_536) -> pa.RecordBatchReader:
        """Stream the partition's rows; EngineError naming it when it was never written."""
        folder = self.partition_dir(path, ds)
        self._recover(folder)
        parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
        if not parts:
            raise EngineError(f"lake partition {path}/ds={ds} not found under {self.root}; run extract for {ds} first")
        schema = pq.read_schema(parts[0])

        def batches() -> Iterator[pa.RecordBatch]:
            for part in parts:
                with pq.ParquetFile(part) as f:
                    if f.schema_arrow != schema:
                        raise EngineError(f"lake file {part} has a different schema than {parts[0]}")
                    yield from f.iter_batches(batch_size=batch_size)

        return pa.RecordBatchReader.from_batches(schema, batches())
