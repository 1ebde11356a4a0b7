"""Sources: read one pipeline's selection as a stream of Arrow record batches."""

from __future__ import annotations

from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.engine.sources.base import Source
from dag_factory.errors import ConnectionConfigError


def open_source(conn: ConnInfo) -> Source:
    """A source for `conn`; use as a context manager (or call close())."""
    kind = KINDS.get(conn.kind, conn.kind)
    if kind == "postgres":
        from dag_factory.engine.sources.postgres import PostgresSource

        return PostgresSource(conn)
    if kind == "sqlite":
        from dag_factory.engine.sources.sqlite import SqliteSource

        return SqliteSource(conn)
    raise ConnectionConfigError(f"connection {conn}: kind {conn.kind!r} cannot be a source (supported: sqlite, postgres)")


__all__ = ["Source", "open_source"]
