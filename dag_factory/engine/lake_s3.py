"""The lake on S3: the same partitions as LocalLake, published atomically through a manifest.

Connection (Airflow conn_type `aws`, engine kind `aws`)::

    extra = {"bucket": "acme-lake",            # required (or "path": "s3://acme-lake/raw")
             "prefix": "raw",                  # optional key prefix of the whole lake
             "region_name": "eu-west-1",       # optional, as for every AWS connection
             "endpoint_url": "http://..."}     # optional: moto / MinIO / VPC endpoint

Credentials never come from these fields: the caller hands a boto3 session in
(see dag_factory.engine.aws).

Layout (`<base>` = `s3://<bucket>/<prefix>/<pipeline lake path>`)::

    <base>/ds=YYYY-MM-DD/part-<run>-NNNNN.parquet   the partition's data: all a prefix reader sees
    <base>/_manifests/ds=YYYY-MM-DD.json            which files ARE the partition (publish point)
    <base>/_tmp/ds=YYYY-MM-DD/<run>/part-NNNNN.parquet  files of a run being written

S3 has no rename, so a write goes:
 1. recover: delete objects under `ds=.../` that the current manifest does not list
    (left by a run that died mid-publish) and everything under `_tmp/ds=.../`;
 2. write the new files under `_tmp/ds=.../<run>/` (slow part: the whole extract);
 3. server-side copy them into `ds=.../` under names unique to the run (fast);
 4. PUT the manifest listing exactly the new files: **the atomic publish**
    (a single-object PUT is atomic, and S3 reads/lists are strongly consistent);
 5. delete the previous run's files and the temp files.

What each reader sees if the run dies (or while it runs):
- Our loader and Redshift `COPY ... MANIFEST` read only the files the manifest lists:
  the previous partition up to step 4, the new one after it; never a mix. A partition
  whose manifest was never written does not exist (has_partition is False), even if
  step 3 left files.
- A reader of the *prefix* (Athena, Spectrum, Spark) reads every `part-*.parquet`
  under `ds=.../`. Steps 1-2 do not touch the prefix, so a run dying there leaves the
  previous partition exactly as it was. During steps 3-5 (the server-side copies and
  deletes: typically well under a second per file, no data flows through the worker)
  it sees the previous files plus some or all new ones, i.e. duplicates; a run dying
  in that window leaves them until the next write of that partition (the task's
  retry) cleans up in step 1. The manifest lives outside the partition prefix so a
  prefix reader never mistakes it for data.
- A crashed multipart upload in step 2 leaves an invisible incomplete upload; add a
  bucket lifecycle rule "abort incomplete multipart uploads after 1 day".

One writer per partition at a time (the generator's max_active_runs=1 per pipeline).
Files are spooled on local disk (one file of up to `rows_per_file` rows at a time)
and moved with boto3's managed transfers, so memory stays flat and credentials
refresh during long runs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from dag_factory.engine import lake_s3_parts
from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import (
    ROWS_PER_FILE,
    LoadsFrom,
    LocalPartition,
    PartitionInfo,
    S3Partition,
    parquet_writer,
    validate_ds,
    validate_lake_path,
)
from dag_factory.errors import ConnectionConfigError, EngineError

MANIFEST_DIR = "_manifests"
TMP_DIR = "_tmp"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_SEG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")


log = logging.getLogger(__name__)


def _client_error_code(e: Exception) -> str:
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


def validate_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket:
        raise ConnectionConfigError(f"invalid S3 bucket name {bucket!r}")
    return bucket


def validate_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip("/")
    for seg in prefix.split("/") if prefix else []:
        if seg in (".", "..") or not _PREFIX_SEG.match(seg):
            raise ConnectionConfigError(f"invalid S3 lake prefix {prefix!r}: segment {seg!r} not allowed")
    return prefix


def s3_bucket_prefix(conn: ConnInfo) -> tuple[str, str]:
    """(bucket, prefix) of an S3 lake connection: extra.bucket/extra.prefix or extra.path 's3://bucket/prefix'."""
    bucket, prefix = conn.extra.get("bucket"), conn.extra.get("prefix", "")
    path = conn.extra.get("path") or (conn.host if (conn.host or "").startswith("s3://") else None)
    if not bucket and path:
        if not str(path).startswith("s3://"):
            raise ConnectionConfigError(f"connection {conn}: S3 lake path must look like 's3://bucket/prefix', got {path!r}")
        bucket, _, prefix = str(path)[5:].partition("/")
    if not bucket:
        raise ConnectionConfigError(
            f"connection {conn}: an S3 lake needs extra.bucket (and optionally extra.prefix), or extra.path 's3://bucket/prefix'"
        )
    return validate_bucket(bucket), validate_prefix(prefix)


class S3Lake:
    """A lake in an S3 bucket (same interface as LocalLake)."""

    # streams rows to any warehouse, and hands a published partition (manifest + files) to
    # warehouses that read S3 themselves (Redshift COPY, Athena)
    serves: tuple[LoadsFrom, ...] = ("stream", "s3_partition")

    def __init__(
        self,
        bucket: str,
        prefix: str,
        aws: AwsContext,
        rows_per_file: int = ROWS_PER_FILE,
        spool_dir: str | None = None,
    ) -> None:
        self.bucket = validate_bucket(bucket)
        self.prefix = validate_prefix(prefix)
        self.aws = aws
        self.rows_per_file = rows_per_file
        self.spool_dir = spool_dir
        self.s3 = aws.client("s3")

    @classmethod
    def from_conn(cls, conn: ConnInfo, aws: AwsContext) -> S3Lake:
        bucket, prefix = s3_bucket_prefix(conn)
        return cls(bucket, prefix, aws)

    def __repr__(self) -> str:
        return f"S3Lake(s3://{self.bucket}/{self.prefix})"

    # -- keys -----------------------------------------------------------------
    def _base(self, path: str) -> str:
        path = validate_lake_path(path)
        return f"{self.prefix}/{path}" if self.prefix else path

    def partition_prefix(self, path: str, ds: str) -> str:
        return f"{self._base(path)}/ds={validate_ds(ds)}/"

    def manifest_key(self, path: str, ds: str) -> str:
        return f"{self._base(path)}/{MANIFEST_DIR}/ds={validate_ds(ds)}.json"

    def _tmp_prefix(self, path: str, ds: str) -> str:
        return f"{self._base(path)}/{TMP_DIR}/ds={validate_ds(ds)}/"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def table_location(self, path: str) -> str:
        """s3://.../<path>/ : the root under which the ds= partitions live."""
        return self.url(self._base(path) + "/")

    # -- S3 primitives (one request kind each; tests kill the process at a request) --
    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", ()))
        return keys

    def _delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            resp = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            if resp.get("Errors"):
                first = resp["Errors"][0]
                raise EngineError(f"S3 lake {self}: could not delete {first.get('Key')}: {first.get('Message')}")

    def _upload_temp(self, local: str, key: str) -> int:
        self.s3.upload_file(local, self.bucket, key)
        return os.path.getsize(local)

    def _copy_into_partition(self, src_key: str, dst_key: str) -> None:
        self.s3.copy({"Bucket": self.bucket, "Key": src_key}, self.bucket, dst_key)

    def _put_manifest(self, key: str, manifest: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(manifest, indent=1).encode(), ContentType="application/json"
        )

    def _cleanup(self, keys: Iterable[str]) -> None:
        self._delete(keys)

    def _manifest(self, path: str, ds: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.manifest_key(path, ds))["Body"].read()
        except (ClientError, BotoCoreError) as e:
            if _client_error_code(e) in ("NoSuchKey", "404"):
                return None
            raise EngineError(f"S3 lake {self}: cannot read the manifest of {path}/ds={ds}: {e}") from e
        return json.loads(body)

    def _manifest_keys(self, manifest: dict[str, Any] | None) -> list[str]:
        if not manifest:
            return []
        head = f"s3://{self.bucket}/"
        keys = []
        for e in manifest["entries"]:
            if not e["url"].startswith(head):
                raise EngineError(f"S3 lake {self}: manifest entry {e['url']} is outside the bucket")
            keys.append(e["url"][len(head) :])
        return keys

    # -- interface shared with LocalLake --------------------------------------
    def _recover(self, path: str, ds: str) -> list[str]:
        """Drop what a run that died before/while publishing left (one writer per partition);
        returns the keys of the currently published files."""
        current = self._manifest_keys(self._manifest(path, ds))
        keep = set(current)
        stray = [k for k in self._list(self.partition_prefix(path, ds)) if k not in keep]
        stray += self._list(self._tmp_prefix(path, ds))
        if stray:
            self._delete(stray)
        return current

    def write_partition(self, path: str, ds: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo:
        """Write all batches as the partition for `ds`, replacing any previous one atomically."""
        part_prefix = self.partition_prefix(path, ds)
        old = self._recover(path, ds)
        run = uuid.uuid4().hex[:12]
        tmp_prefix = f"{self._tmp_prefix(path, ds)}{run}/"
        written: list[tuple[str, int, int]] = []  # (temp key, bytes, rows)
        copied: list[str] = []
        published = False
        try:
            for i, (local, rows) in enumerate(self._spool_files(schema, batches)):
                try:
                    key = f"{tmp_prefix}part-{i:05d}.parquet"
                    written.append((key, self._upload_temp(local, key), rows))
                finally:
                    os.unlink(local)
            entries = []
            for i, (tmp_key, size, rows) in enumerate(written):
                final = f"{part_prefix}part-{run}-{i:05d}.parquet"
                self._copy_into_partition(tmp_key, final)
                copied.append(final)
                entries.append(
                    {"url": self.url(final), "mandatory": True, "meta": {"content_length": size, "record_count": rows}}
                )
            total = sum(r for _, _, r in written)
            manifest = {
                "entries": entries,
                "dag_factory": {
                    "version": 1,
                    "ds": ds,
                    "run": run,
                    "rows": total,
                    "arrow_schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
                },
            }
            self._put_manifest(self.manifest_key(path, ds), manifest)
            published = True
            keep = set(copied)
            self._cleanup([k for k in old if k not in keep] + [k for k, _, _ in written])
        except BaseException:
            if not published:  # best effort; whatever remains is removed by the next write's recovery
                try:
                    self._delete(copied + [k for k, _, _ in written])
                except Exception:  # broad on purpose: the write's own error is the one to raise;
                    # a failed cleanup (any cause) is only logged, and the next write's _recover retries it
                    log.warning("S3 lake %s: cleanup after a failed write of %s/ds=%s failed", self, path, ds, exc_info=True)
            raise
        return PartitionInfo(rows=total, files=len(written), location=self.url(part_prefix))

    def _spool_files(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, int]]:
        """Yield (local file, rows) per finished Parquet file of at most rows_per_file rows."""
        writer: pq.ParquetWriter | None = None
        local = ""
        in_file = 0

        def open_new() -> pq.ParquetWriter:
            nonlocal local
            fd, local = tempfile.mkstemp(prefix="dagf-s3lake-", suffix=".parquet", dir=self.spool_dir)
            os.close(fd)
            return parquet_writer(local, schema)

        try:
            for batch in batches:
                if batch.schema != schema:
                    raise EngineError(f"batch schema differs from the declared schema:\n{batch.schema}\nvs\n{schema}")
                offset = 0
                while offset < batch.num_rows:
                    if writer is None:
                        writer, in_file = open_new(), 0
                    take = min(batch.num_rows - offset, self.rows_per_file - in_file)
                    writer.write_batch(batch.slice(offset, take))
                    offset += take
                    in_file += take
                    if in_file >= self.rows_per_file:
                        writer.close()
                        writer = None
                        yield local, in_file
            if writer is None and in_file == 0:  # empty extract: one valid file with the schema
                writer = open_new()
            if writer is not None:
                writer.close()
                writer = None
                yield local, in_file
        finally:
            if writer is not None:
                writer.close()
                os.unlink(local)

    # -- parallel extraction (several writers, one publish): engine/lake_s3_parts.py --
    def clear_parts(self, path: str, ds: str) -> None:
        lake_s3_parts.clear_parts(self, path, ds)

    def write_part(self, path: str, ds: str, index: int, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> PartitionInfo:
        return lake_s3_parts.write_part(self, path, ds, index, schema, batches)

    def commit_parts(self, path: str, ds: str, parts: int) -> PartitionInfo:
        return lake_s3_parts.commit_parts(self, path, ds, parts)

    def has_partition(self, path: str, ds: str) -> bool:
        return self._manifest(path, ds) is not None

    def local_partition(self, path: str, ds: str) -> LocalPartition:
        """Never asked: an S3 lake does not serve local_files (see serves)."""
        raise EngineError(f"lake {self.bucket}: partition {path}/ds={ds} is in S3, not in local files")

    def partition(self, path: str, ds: str) -> S3Partition:
        """The published partition `ds` (EngineError naming it when it was never written)."""
        manifest = self._manifest(path, ds)
        if manifest is None:
            raise EngineError(
                f"lake partition {path}/ds={ds} not found in s3://{self.bucket}/{self.prefix}; run extract for {ds} first"
            )
        meta = manifest["dag_factory"]
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta["arrow_schema"])))
        return S3Partition(
            bucket=self.bucket,
            ds=ds,
            table_location=self.table_location(path),
            location=self.url(self.partition_prefix(path, ds)),
            manifest_url=self.url(self.manifest_key(path, ds)),
            files=tuple(e["url"] for e in manifest["entries"]),
            rows=int(meta["rows"]),
            schema=schema,
            run=meta["run"],
        )

    def read_partition(self, path: str, ds: str, batch_size: int = 65_536) -> pa.RecordBatchReader:
        """Stream the rows of the files the manifest lists (one file spooled locally at a time)."""
        part = self.partition(path, ds)
        head = f"s3://{self.bucket}/"

        def batches() -> Iterator[pa.RecordBatch]:
            for url in part.files:
                fd, local = tempfile.mkstemp(prefix="dagf-s3read-", suffix=".parquet", dir=self.spool_dir)
                os.close(fd)
                try:
                    try:
                        self.s3.download_file(self.bucket, url[len(head) :], local)
                    except (ClientError, BotoCoreError, OSError) as e:
                        raise EngineError(f"S3 lake {self}: cannot read {url} listed by {part.manifest_url}: {e}") from e
                    with pq.ParquetFile(local) as f:
                        if f.schema_arrow != part.schema:
                            raise EngineError(f"lake file {url} has a different schema than its manifest")
                        yield from f.iter_batches(batch_size=batch_size)
                finally:
                    os.unlink(local)

        return pa.RecordBatchReader.from_batches(part.schema, batches())
