"""`type: file`: CSV, JSON-lines or Parquet files in a folder or an S3 bucket.

The connection says where (engine kind `fs`: a folder in `extra.path` or `host`; kind
`aws`: `extra.bucket` + optional `extra.prefix`, or `extra.path` `s3://bucket/prefix`,
with `region_name` / `endpoint_url` as for the S3 lake; credentials come from the boto3
session the caller hands in, see dag_factory.engine.aws). `source.path` is a glob
relative to that root, templated with the interval (`exports/{{ ds }}/*.csv`):
`*` and `?` stay within one folder level, `**` spans levels. Names starting with `.`
or `_` (`_SUCCESS`, temp files) are never read. Matching files are read in name order.

This module lists and reads files; dag_factory.engine.normalize fixes the schema: declared
`fields` (csv, jsonl), or the first file's (inferred for csv/jsonl, stored for Parquet);
later files must fit it (missing columns are NULL, a value that does not fit or an
unexpected column raises an EngineError naming the file). CSV files after the first are
parsed with the first file's column types. CSV: first line = column names; an empty
unquoted field is NULL, a quoted "" is '' (PostgreSQL's CSV convention). JSON lines are
records, as from the HTTP source (nested values as JSON text).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dag_factory.config.model import FileSource, Load, Source
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsResolver, aws_for
from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.sources.base import expect
from dag_factory.engine.sources.raw import ArrowStream, Raw, RecordStream
from dag_factory.engine.sources.templates import render_text
from dag_factory.errors import ConnectionConfigError, EngineError

_WILD = re.compile(r"[*?\[]")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: `*`/`?` within one level, `**` across levels, `[...]` classes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _check_relative(path: str) -> str:
    p = path.strip()
    if not p or p.startswith("/") or "\\" in p or any(seg == ".." for seg in p.split("/")):
        raise EngineError(f"file source path {path!r} must be relative to the connection's root, without '..'")
    return p


class FileSourceReader:
    """Lists and reads the files of one `type: file` source."""

    def __init__(self, conn: ConnInfo, aws: AwsResolver | None = None) -> None:
        self.conn = conn
        self.aws = aws
        self._fs: tuple[pafs.FileSystem, str, str] | None = None

    def close(self) -> None:
        self._fs = None

    def __enter__(self) -> FileSourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def filesystem(self) -> tuple[pafs.FileSystem, str, str]:
        """(filesystem, root inside it, how to show the root in messages)."""
        if self._fs is None:
            kind = KINDS.get(self.conn.kind, self.conn.kind)
            if kind == "fs":
                root = self.conn.extra.get("path") or self.conn.host
                if not root:
                    raise ConnectionConfigError(
                        f"connection {self.conn}: a folder connection needs extra.path (or host) as its root folder"
                    )
                local = pafs.LocalFileSystem()
                root = str(root).rstrip("/") or "/"
                self._fs = (local, root, root)
            elif kind == "aws":
                from dag_factory.engine.lake_s3 import s3_bucket_prefix

                bucket, prefix = s3_bucket_prefix(self.conn)
                ctx = aws_for(self.conn, self.aws)
                creds = ctx.session.get_credentials()
                if creds is None:
                    raise ConnectionConfigError(f"connection {self.conn}: no AWS credentials found")
                frozen = creds.get_frozen_credentials()
                kwargs: dict = {
                    "access_key": frozen.access_key,
                    "secret_key": frozen.secret_key,
                    "session_token": frozen.token,
                    "region": ctx.region_name or ctx.session.region_name or "us-east-1",
                }
                if ctx.endpoint_url:
                    scheme, _, host = ctx.endpoint_url.partition("://")
                    kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme)
                root = f"{bucket}/{prefix}" if prefix else bucket
                self._fs = (pafs.S3FileSystem(**kwargs), root, f"s3://{root}")
            else:
                raise ConnectionConfigError(
                    f"connection {self.conn}: kind {self.conn.kind!r} cannot hold files (supported: fs for a folder, aws for S3)"
                )
        return self._fs

    def pattern(self, source: FileSource, interval: Interval) -> str:
        return _check_relative(render_text(source.path, interval, "source.path"))

    def list_files(self, source: FileSource, interval: Interval) -> list[str]:
        """Every matching file (full path inside the filesystem), in name order."""
        fs, root, _ = self.filesystem()
        pattern = self.pattern(source, interval)
        segments = pattern.split("/")
        static = []
        for seg in segments[:-1]:
            if _WILD.search(seg):
                break
            static.append(seg)
        if not _WILD.search(pattern):  # one exact file
            info = fs.get_file_info(f"{root}/{pattern}")
            return [info.path] if info.type == pafs.FileType.File and not _hidden(pattern) else []
        base = "/".join([root, *static])
        regex = glob_regex(pattern)
        found = []
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(root) + 1 :] if info.path.startswith(root + "/") else info.path
            if regex.match(rel) and not _hidden(rel[len("/".join(static)) :]):
                found.append(info.path)
        return sorted(found)

    def has_files(self, source: FileSource, interval: Interval) -> bool:
        """What the wait sensor asks: is there at least one matching file yet?"""
        return bool(self.list_files(source, interval))

    def read(self, source: Source, load: Load, interval: Interval) -> Raw:
        file = expect(source, FileSource, self)
        files = self.list_files(file, interval)
        _, _, shown = self.filesystem()
        if not files:
            raise EngineError(
                f"source {self.conn}: no file matches {self.pattern(file, interval)!r} under {shown} "
                f"(path template {file.path!r}, interval {interval})"
                + ("" if file.wait else "; set source.wait to wait for late files")
            )
        where = f"source {self.conn} ({file.path})"
        if file.format == "jsonl":
            empty = (
                f"source {self.conn}: the files matching {file.path!r} hold no records, so there is no schema to "
                "infer; declare source.fields to load empty files"
            )
            return RecordStream(where, self._jsonl(files, max(file.batch_size, 1)), empty)
        if file.format == "csv":
            return ArrowStream(where, (), lambda schema: self._csv(files, schema))
        return ArrowStream(where, (), lambda schema: self._parquet(files, max(file.batch_size, 1)))

    def _name(self, path: str) -> str:
        _, root, shown = self.filesystem()
        return shown + path[len(root) :] if path.startswith(root) else path

    # -- formats ------------------------------------------------------------------
    def _csv(self, files: list[str], declared: pa.Schema | None) -> tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]:
        """Read with the `declared` column types (missing columns NULL), else with the first file's."""
        fs, _, _ = self.filesystem()

        def open_reader(path: str, types: dict[str, pa.DataType] | None, include: list[str] | None) -> Any:
            convert = pacsv.ConvertOptions(
                column_types=types or {},
                include_columns=include or [],
                include_missing_columns=bool(include),
                strings_can_be_null=True,  # an empty unquoted field is NULL,
                quoted_strings_can_be_null=False,  # a quoted "" is '' (PostgreSQL's CSV convention)
            )
            stream = fs.open_input_stream(path)
            try:
                return pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=1 << 20), convert_options=convert)
            except pa.ArrowInvalid as e:
                if "Empty CSV file" in str(e):
                    return None
                raise EngineError(
                    f"{self._name(path)}: cannot read as CSV with the column types {_types_of(types)}: {e}"
                ) from None

        if declared is not None:
            read_types: dict[str, pa.DataType] = dict(zip(declared.names, declared.types, strict=True))
            include: list[str] | None = declared.names
            schema = declared
        else:
            first = open_reader(files[0], None, None)
            if first is None:
                raise EngineError(
                    f"{self._name(files[0])}: empty CSV file, no header to take the columns from; declare source.fields"
                )
            schema = first.schema
            read_types, include = dict(zip(schema.names, schema.types, strict=True)), None

        def stream() -> Iterator[tuple[str, pa.RecordBatch]]:
            for path in files:
                reader = open_reader(path, read_types, include)
                if reader is None:
                    continue
                if declared is None and reader.schema.names != schema.names:
                    raise EngineError(
                        f"{self._name(path)}: columns {reader.schema.names} differ from the first file's {schema.names}; "
                        "declare source.fields to read files with different columns"
                    )
                try:
                    for b in reader:
                        yield self._name(path), b
                except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                    raise EngineError(
                        f"{self._name(path)}: a value does not fit the column types {_types(schema)}: {e}"
                    ) from None

        return schema, stream()

    def _jsonl(self, files: list[str], size: int) -> Iterator[tuple[str, list[Any]]]:
        """(file, up to `size` records) for every file, in order."""
        fs, _, _ = self.filesystem()
        for path in files:
            name = self._name(path)
            with fs.open_input_stream(path) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8")
                chunk: list[Any] = []
                for n, line in enumerate(text, 1):
                    if not line.strip():
                        continue
                    try:
                        chunk.append(json.loads(line, parse_float=Decimal))
                    except ValueError as e:
                        raise EngineError(f"{name}:{n}: not a JSON line ({e})") from None
                    if len(chunk) >= size:
                        yield f"file {name}", chunk
                        chunk = []
                if chunk:
                    yield f"file {name}", chunk

    def _parquet(self, files: list[str], size: int) -> tuple[pa.Schema, Iterator[tuple[str, pa.RecordBatch]]]:
        """The first file's stored schema; every file's batches as stored (normalize casts them to it)."""
        fs, _, _ = self.filesystem()
        with fs.open_input_file(files[0]) as f:
            schema = pq.ParquetFile(f).schema_arrow

        def stream() -> Iterator[tuple[str, pa.RecordBatch]]:
            for path in files:
                with fs.open_input_file(path) as f:
                    pf = pq.ParquetFile(f)
                    if pf.schema_arrow.names != schema.names:
                        raise EngineError(
                            f"{self._name(path)}: columns {pf.schema_arrow.names} differ from the first file's {schema.names}"
                        )
                    for b in pf.iter_batches(batch_size=size):
                        yield self._name(path), b

        return schema, stream()


def _hidden(rel: str) -> bool:
    return any(seg.startswith((".", "_")) for seg in rel.split("/") if seg)


def _types_of(types: dict[str, pa.DataType] | None) -> str:
    return "{" + ", ".join(f"{n}: {t}" for n, t in (types or {}).items()) + "}" if types else "(inferred)"


def _types(schema: pa.Schema) -> str:
    return "{" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "}"
