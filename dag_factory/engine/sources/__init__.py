"""Readers: read one interval of a pipeline's source as raw data (`raw.Raw`).

dag_factory.engine.normalize turns what they read into Arrow batches of one schema:

    with open_source(conn, pipeline.source.type) as reader:
        schema, batches = normalize(reader.read(pipeline.source, load, interval), pipeline.source, load, interval)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.sources.base import Reader
from dag_factory.errors import ConnectionConfigError

if TYPE_CHECKING:
    from dag_factory.engine.aws import AwsResolver


def open_source(conn: ConnInfo, source_type: str = "sql", aws: AwsResolver | None = None) -> Reader:
    """A reader for `conn` and the pipeline's `source.type`; use as a context manager (or call close()).

    `aws` turns an AWS connection into a boto3 session (file sources on S3)."""
    kind = KINDS.get(conn.kind, conn.kind)
    if source_type == "file":
        from dag_factory.engine.sources.file import FileSourceReader

        return FileSourceReader(conn, aws)
    if source_type == "http":
        if kind != "http":
            raise ConnectionConfigError(f"connection {conn}: a source of type http needs a connection of type http")
        from dag_factory.engine.sources.http import HttpSourceReader

        return HttpSourceReader(conn)
    if kind == "postgres":
        from dag_factory.engine.sources.postgres import PostgresSource

        return PostgresSource(conn)
    if kind == "sqlite":
        from dag_factory.engine.sources.sqlite import SqliteSource

        return SqliteSource(conn)
    if kind == "mysql":
        from dag_factory.engine.sources.mysql import MysqlSource

        return MysqlSource(conn)
    raise ConnectionConfigError(
        f"connection {conn}: kind {conn.kind!r} cannot be a source of type {source_type} (supported: sqlite, postgres, mysql)"
    )


__all__ = ["Reader", "open_source"]
