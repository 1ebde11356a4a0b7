"""Every warehouse that can run here, as one test parameter each.

A warehouse test takes the `warehouse` fixture (tests/engine/conftest.py), parametrised over
WAREHOUSES: DuckDB (a file), PostgreSQL (a throwaway server) and Redshift's SQL on that
PostgreSQL (RedshiftWarehouse unchanged on tests/support/redshift_on_pg, loading from an S3
lake on moto). Adding a warehouse = its module + a parameter here. Athena runs no SQL and has
its own tests (test_engine_athena.py) against moto's Glue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dag_factory.engine.aws import AwsContext, AwsResolver
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import open_warehouse
from dag_factory.engine.warehouses.base import DbapiFactory, Warehouse

WAREHOUSES = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redshift", marks=pytest.mark.postgres),
]
ROLE = "arn:aws:iam::123456789012:role/RedshiftCopy"


@dataclass
class WarehouseUnderTest:
    kind: str
    conn: ConnInfo  # the target connection
    lake: ConnInfo  # a lake this warehouse loads from
    aws: AwsResolver | None = None
    dbapi: DbapiFactory | None = None
    connections: list[Any] = field(default_factory=list)  # DB-API connections handed out (Redshift)

    @property
    def steps(self) -> dict[str, Any]:
        """Keyword arguments for runner/wap steps."""
        return {"aws": self.aws, "dbapi": self.dbapi}

    def open(self) -> Warehouse:
        return open_warehouse(self.conn, self.aws, self.dbapi)

    def rows(self, sql: str) -> list[tuple]:
        with self.open() as wh:
            return wh.fetch(sql)[1]


def make_warehouse(kind: str, tmp: Path, request: pytest.FixtureRequest) -> WarehouseUnderTest:
    if kind == "duckdb":
        return WarehouseUnderTest(kind, ConnInfo("wh", "duckdb", host=str(tmp / "wh.duckdb")), _fs_lake(tmp))
    pg: ConnInfo = request.getfixturevalue("pg_conn")
    if kind == "postgres":
        return WarehouseUnderTest(
            kind, ConnInfo("wh", "postgres", pg.host, pg.port, pg.login, pg.password, pg.database), _fs_lake(tmp)
        )
    if kind == "redshift":
        from tests.support.redshift_on_pg import RedshiftOnPostgres

        m = request.getfixturevalue("moto_aws")
        bucket = m.new_bucket()
        out = WarehouseUnderTest(
            kind,
            ConnInfo("wh", "redshift", host="cluster.example", port=5439, database="dev", extra={"iam_role": ROLE}),
            ConnInfo("lake", "aws", extra={"bucket": bucket, "prefix": "raw"}),
            aws=lambda c: AwsContext(m.shared_session(), m.endpoint_url),
        )

        def dbapi(conn: ConnInfo) -> RedshiftOnPostgres:
            db = RedshiftOnPostgres(pg, m.client("s3"))
            out.connections.append(db)
            return db

        out.dbapi = dbapi
        return out
    raise AssertionError(f"no test setup for warehouse {kind!r}")


def _fs_lake(tmp: Path) -> ConnInfo:
    return ConnInfo("lake", "fs", host=str(tmp / "lake"))
