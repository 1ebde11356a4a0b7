"""Airflow layer: the only part of dag_factory that imports Airflow."""


def generate_dags(namespace: dict, pipelines_dir: str | None = None) -> None:
    """Build one DAG per pipeline into `namespace` (a DAG file's globals()); see generate.py."""
    from dag_factory.airflow.generate import generate_dags as _generate

    _generate(namespace, pipelines_dir)
