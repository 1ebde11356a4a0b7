"""Engine-side connection descriptions, filled by the Airflow layer or the CLI.

The engine never looks connections up itself: it gets a ConnInfo, so it stays
Airflow-free and testable with plain pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Airflow conn_type -> engine kind
KINDS = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "duckdb": "duckdb",
    "fs": "fs",
    "file": "fs",
    # AWS (docs/aws.md): an `aws` connection is an S3 lake when it is lake.conn_id and
    # Athena (+ Glue catalog) when it is target.conn_id; `redshift` is a Redshift warehouse.
    "aws": "aws",
    "redshift": "redshift",
    # sources (docs/sources.md): MySQL / MariaDB / Aurora MySQL, and JSON REST APIs
    "mysql": "mysql",
    "http": "http",
}


@dataclass(frozen=True)
class ConnInfo:
    conn_id: str
    kind: str  # sqlite | postgres | mysql | http | duckdb | fs | aws | redshift
    host: str | None = None  # sqlite/duckdb: database file path; fs: root folder (or extra.path)
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    database: str | None = None  # Airflow's "schema" field: the database (postgres, mysql); the URL scheme for http
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"{self.conn_id} ({self.kind})"
