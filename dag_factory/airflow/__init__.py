"""Airflow layer: the only part of dag_factory that imports Airflow."""


def generate_dags(namespace: dict, pipelines_dir: str | None = None, shard: int | None = None, shards: int = 1) -> None:
    """Build one DAG per pipeline into `namespace` (a DAG file's globals()); with `shards` > 1 only
    shard `shard`'s pipelines (see config/shards.py, `dag-factory shards`)."""
    from dag_factory.airflow.generate import generate_dags as _generate

    _generate(namespace, pipelines_dir, shard, shards)
