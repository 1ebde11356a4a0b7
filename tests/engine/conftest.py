"""Fixtures for engine tests: real PostgreSQL and MariaDB servers (session) and a fresh PostgreSQL database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dag_factory.engine.connections import ConnInfo
from tests.support.mariadb import MariaServer, mariadb_server
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture, for the Redshift parameter)
from tests.support.postgres import PgServer, postgres_server
from tests.support.warehouses import WAREHOUSES, WarehouseUnderTest, make_warehouse


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        with postgres_server() as server:
            yield server
    except (RuntimeError, OSError) as e:  # no binaries and no DSN: say so instead of erroring
        if os.environ.get("CI"):  # CI installs PostgreSQL: there a missing server is a failure
            raise
        pytest.skip(f"no PostgreSQL available: {e}")


@pytest.fixture
def pg_conn(pg_server: PgServer) -> Iterator[ConnInfo]:
    """ConnInfo for a brand-new, empty database (dropped after the test)."""
    with pg_server.fresh_database() as name:
        yield pg_server.conninfo(name)


@pytest.fixture(scope="session")
def maria() -> Iterator[MariaServer]:
    try:
        with mariadb_server() as server:
            yield server
    except (RuntimeError, OSError) as e:
        if os.environ.get("CI"):  # CI installs MariaDB (scripts/mariadb.sh): there a missing server is a failure
            raise
        pytest.skip(f"no MariaDB available: {e}")


@pytest.fixture(params=WAREHOUSES)
def target_wh(request: pytest.FixtureRequest, tmp_path) -> WarehouseUnderTest:
    return make_warehouse(request.param, tmp_path, request)
