"""Parallel extraction on the S3 lake: several writers, one manifest publish.

Layout beside the partition (`<base>` as in lake_s3)::

    <base>/_parts/ds=YYYY-MM-DD/p0003/<attempt>/part-NNNNN.parquet  one attempt of part 3
    <base>/_parts/ds=YYYY-MM-DD/p0003.json                          which attempt IS part 3

A part is written like a partition: files first, then one PUT of its small manifest (atomic),
so a retried part replaces its earlier attempt whole. commit_parts copies the files every part
manifest lists into `ds=.../` and PUTs the partition manifest: the same publish point as
write_partition, so readers see the previous partition or all parts, never some.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dag_factory.engine.lake import PartitionInfo, validate_ds
from dag_factory.errors import EngineError

if TYPE_CHECKING:
    from dag_factory.engine.lake_s3 import S3Lake

PARTS_DIR = "_parts"
log = logging.getLogger(__name__)


def parts_prefix(lake: S3Lake, path: str, ds: str) -> str:
    return f"{lake._base(path)}/{PARTS_DIR}/ds={validate_ds(ds)}/"


def clear_parts(lake: S3Lake, path: str, ds: str) -> None:
    keys = lake._list(parts_prefix(lake, path, ds))
    if keys:
        lake._delete(keys)


def _schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def write_part(
    lake: S3Lake, path: str, ds: str, index: int, schema: pa.Schema, batches: Iterable[pa.RecordBatch]
) -> PartitionInfo:
    home = f"{parts_prefix(lake, path, ds)}p{index:04d}/"
    attempt = uuid.uuid4().hex[:12]
    files: list[dict[str, Any]] = []
    for i, (local, rows) in enumerate(lake._spool_files(schema, batches)):
        try:
            key = f"{home}{attempt}/part-{i:05d}.parquet"
            files.append({"key": key, "bytes": lake._upload_temp(local, key), "rows": rows})
        finally:
            os.unlink(local)
    body = {"attempt": attempt, "files": files, "arrow_schema": _schema_text(schema)}
    lake._put_manifest(f"{home[:-1]}.json", body)  # this attempt is now part `index`
    stale = [k for k in lake._list(home) if not k.startswith(f"{home}{attempt}/")]
    if stale:
        lake._delete(stale)
    return PartitionInfo(rows=sum(f["rows"] for f in files), files=len(files), location=lake.url(home))


def _part_manifest(lake: S3Lake, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from dag_factory.engine.lake_s3 import _client_error_code

    try:
        return json.loads(lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError) as e:
        if _client_error_code(e) in ("NoSuchKey", "404"):
            return None
        raise EngineError(f"S3 lake {lake}: cannot read {key}: {e}") from e


def commit_parts(lake: S3Lake, path: str, ds: str, parts: int) -> PartitionInfo:
    home = parts_prefix(lake, path, ds)
    manifests = [_part_manifest(lake, f"{home}p{i:04d}.json") for i in range(parts)]
    missing = [i + 1 for i, m in enumerate(manifests) if m is None]
    if missing:
        raise EngineError(f"lake partition {path}/ds={ds}: parts {missing} of {parts} were not written; run their extract first")
    schemas = {m["arrow_schema"] for m in manifests if m is not None}
    if len(schemas) != 1:
        raise EngineError(f"lake partition {path}/ds={ds}: the parts were written with different schemas")
    text = schemas.pop()
    part_prefix = lake.partition_prefix(path, ds)
    old = lake._recover(path, ds)
    run = uuid.uuid4().hex[:12]
    copied: list[str] = []
    entries = []
    total = 0
    try:
        for i, m in enumerate(manifests):
            assert m is not None
            for n, f in enumerate(m["files"]):
                final = f"{part_prefix}part-{run}-p{i:04d}-{n:05d}.parquet"
                lake._copy_into_partition(f["key"], final)
                copied.append(final)
                entries.append(
                    {"url": lake.url(final), "mandatory": True, "meta": {"content_length": f["bytes"], "record_count": f["rows"]}}
                )
                total += int(f["rows"])
        manifest = {"entries": entries, "dag_factory": {"version": 1, "ds": ds, "run": run, "rows": total, "arrow_schema": text}}
        lake._put_manifest(lake.manifest_key(path, ds), manifest)
    except BaseException:
        try:
            lake._delete(copied)
        except Exception:  # broad: the commit's own error is the one to raise; the next write's recovery retries
            log.warning("S3 lake %s: cleanup after a failed commit of %s/ds=%s failed", lake, path, ds, exc_info=True)
        raise
    keep = set(copied)
    lake._cleanup([k for k in old if k not in keep] + lake._list(home))
    return PartitionInfo(rows=total, files=len(entries), location=lake.url(part_prefix))
