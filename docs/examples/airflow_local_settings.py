"""Airflow cluster policy for dag_factory DAGs: writes to a single-writer warehouse queue in a pool.

Put this file where Airflow imports `airflow_local_settings` from ($AIRFLOW_HOME/config/ or the
plugins folder) on the scheduler, DAG processor and workers, create the pool once:

    airflow pools set writer_warehouse 1 "one writer at a time into the warehouse connection"

and list in SINGLE_WRITER the target connection ids whose warehouse takes one writer at a time.
Every dag_factory DAG is tagged `target:<conn_id>`; its stage, check and publish tasks (the ones
that open the warehouse) then take a slot of the pool `writer_<conn_id>`, so a second pipeline's
load waits in the scheduler's queue instead of holding a worker slot while it waits for the
warehouse. Extract tasks (source -> lake) stay in their default pool and run in parallel.
Without this policy only the publish tasks take a pool: `dag_factory_<conn_id>`, set by
dag_factory itself (docs/deploy.md, "Publish pools"); the policy replaces it for these DAGs.
"""

from __future__ import annotations

SINGLE_WRITER = {"warehouse"}  # target conn_ids, e.g. a DuckDB file on one machine
WAREHOUSE_TASK_PREFIXES = ("load.", "checks.")


def task_policy(task) -> None:
    if not task.task_id.startswith(WAREHOUSE_TASK_PREFIXES) or task.dag is None:
        return
    for tag in task.dag.tags:
        if tag.startswith("target:") and tag.removeprefix("target:") in SINGLE_WRITER:
            task.pool = f"writer_{tag.removeprefix('target:')}"
