"""Session-wide test set-up: an isolated AIRFLOW_HOME before anything imports Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mariadb import MariaServer, mariadb_server
from tests.support.postgres import PgServer, postgres_server

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="dagf-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "DAG_FACTORY_ENV": "local",
    }
)
os.environ.pop("DAG_FACTORY_PIPELINES", None)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB (once per session, ~5 s)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _AIRFLOW_HOME


# Real servers, one of each per test session for every folder (tests start them; no mocks).
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        with postgres_server() as server:
            yield server
    except (RuntimeError, OSError) as e:  # no binaries and no DSN: say so instead of erroring
        if os.environ.get("CI"):  # CI installs PostgreSQL: there a missing server is a failure
            raise
        pytest.skip(f"no PostgreSQL available: {e}")


@pytest.fixture(scope="session")
def maria() -> Iterator[MariaServer]:
    try:
        with mariadb_server() as server:
            yield server
    except (RuntimeError, OSError) as e:
        if os.environ.get("CI"):  # CI installs MariaDB (scripts/mariadb.sh): there a missing server is a failure
            raise
        pytest.skip(f"no MariaDB available: {e}")
