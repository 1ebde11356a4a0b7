"""The publish pool: every publish task into one target connection shares the pool
`dag_factory_<conn_id>`; nothing else leaves `default_pool`. (The scheduler honouring
the pool's slots is tested end to end in tests/e2e/test_e2e_celery.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from dag_factory.airflow.pools import publish_pool, publish_pools
from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize(("env", "target"), [("local", "warehouse"), ("prod", "redshift")])
def test_publish_tasks_take_the_pool_of_their_target_connection(monkeypatch, env, target):
    monkeypatch.setenv("DAG_FACTORY_ENV", env)
    bag = DagBag(dag_folder=str(REPO / "dags"), bundle_name="dags-folder")
    assert bag.import_errors == {} and bag.dags
    for dag_id, dag in bag.dags.items():
        pools = {t.task_id: t.pool for t in dag.tasks}
        assert pools.pop("load.publish") == f"dag_factory_{target}", dag_id
        assert set(pools.values()) == {"default_pool"}, (dag_id, pools)


def test_one_pool_per_target_connection():
    pipelines = load_pipelines(REPO / "pipelines", env="prod").pipelines.values()
    assert publish_pools(pipelines) == {"dag_factory_redshift": "dag_factory: concurrent publishes into connection redshift"}
    assert publish_pool("wh_eu") == "dag_factory_wh_eu"
