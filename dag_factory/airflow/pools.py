"""One Airflow pool per target connection caps concurrent publishes into that warehouse.

Pipelines that finish together would otherwise all commit into one (small) PostgreSQL or
one Redshift queue at once; the pool makes the scheduler queue the surplus publishes
instead of letting them wait inside the warehouse while holding worker slots. The name is
derived from the connection id, so the YAML has no pool key: how many publishes a
warehouse takes is a deployment decision, made with the pool's slots.

Airflow never schedules a task whose pool does not exist (the DAG only shows a warning),
so every deployment creates these pools: `airflow pools set dag_factory_<conn_id> SLOTS
DESCRIPTION` (docs/deploy.md). No Airflow import here: the CLI uses these names too.
"""

from __future__ import annotations

from collections.abc import Iterable

from dag_factory.config.model import Pipeline

POOL_PREFIX = "dag_factory_"


def publish_pool(target_conn_id: str) -> str:
    """The pool of every publish task into `target_conn_id`."""
    return f"{POOL_PREFIX}{target_conn_id}"


def publish_pools(pipelines: Iterable[Pipeline]) -> dict[str, str]:
    """Pool name -> description, one per target connection of `pipelines` (sorted)."""
    conn_ids = sorted({p.target.conn_id for p in pipelines})
    return {publish_pool(c): f"dag_factory: concurrent publishes into connection {c}" for c in conn_ids}
