"""Fixtures for the reliability tests: a real PostgreSQL server (as in tests/engine)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dag_factory.engine.connections import ConnInfo
from tests.support.postgres import PgServer, postgres_server


@pytest.fixture(scope="session")
def rel_pg_server() -> Iterator[PgServer]:
    try:
        with postgres_server() as server:
            yield server
    except (RuntimeError, OSError) as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL available: {e}")


@pytest.fixture
def pg_conn(rel_pg_server: PgServer) -> Iterator[ConnInfo]:
    """ConnInfo for a brand-new, empty database (dropped after the test)."""
    with rel_pg_server.fresh_database() as name:
        yield rel_pg_server.conninfo(name)
