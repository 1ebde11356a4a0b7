"""Fixtures for engine tests: a fresh PostgreSQL database per test and the warehouse parameter
(the PostgreSQL and MariaDB servers themselves are session fixtures in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dag_factory.engine.connections import ConnInfo
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture, for the Redshift parameter)
from tests.support.postgres import PgServer
from tests.support.warehouses import WAREHOUSES, WarehouseUnderTest, make_warehouse


@pytest.fixture
def pg_conn(pg_server: PgServer) -> Iterator[ConnInfo]:
    """ConnInfo for a brand-new, empty database (dropped after the test)."""
    with pg_server.fresh_database() as name:
        yield pg_server.conninfo(name)


@pytest.fixture(params=WAREHOUSES)
def target_wh(request: pytest.FixtureRequest, tmp_path) -> WarehouseUnderTest:
    return make_warehouse(request.param, tmp_path, request)
