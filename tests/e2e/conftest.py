"""One real Airflow (standalone: scheduler, dag-processor, triggerer, api-server) for
the whole e2e session, so the REST and browser tests pay its start-up once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.airflow_server import REPO, AirflowServer, airflow_standalone

# every example pipeline file is a DAG (the name equals the file name); `_defaults.yaml` is not
EXAMPLE_DAGS = {p.stem for p in (REPO / "pipelines").glob("*.yaml") if not p.name.startswith("_")}


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory) -> Iterator[AirflowServer]:
    with airflow_standalone(tmp_path_factory.mktemp("airflow-e2e"), timeout=240) as server:
        yield server


@pytest.fixture(scope="session")
def parsed_server(airflow_server: AirflowServer) -> AirflowServer:
    """The server once every example pipeline is a parsed DAG and nothing failed to import."""

    def probe():
        dags, errors = airflow_server.dags(), airflow_server.import_errors()
        return EXAMPLE_DAGS <= set(dags) and not errors, {"dags": sorted(dags), "import_errors": errors}

    airflow_server.wait_for("the example DAGs to be parsed without import errors", probe, timeout=180)
    return airflow_server
