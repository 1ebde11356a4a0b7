"""Fixtures for the reliability tests: a real PostgreSQL server (as in tests/engine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dag_factory.engine.connections import ConnInfo
from tests.support.postgres import PgServer


@pytest.fixture
def rel_pg_server(pg_server: PgServer) -> PgServer:
    return pg_server  # the session server (tests/conftest.py)


@pytest.fixture
def pg_conn(rel_pg_server: PgServer) -> Iterator[ConnInfo]:
    """ConnInfo for a brand-new, empty database (dropped after the test)."""
    with rel_pg_server.fresh_database() as name:
        yield rel_pg_server.conninfo(name)
