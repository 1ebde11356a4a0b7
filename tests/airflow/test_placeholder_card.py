"""Issue 13.11: a broken pipeline's placeholder DAG carries the error where the DAG list shows it
(its display name) and keeps the owner its YAML names."""

from __future__ import annotations

from dag_factory.airflow.generate import generate_dags
from tests.config.helpers import write

BROKEN = """
version: 1
name: broken_orders
owner: finance
source: {type: sql, conn_id: shop_db, table: orders}
load:
  mode: incremental
  curser: updated_at
target: {conn_id: warehouse, table: analytics.x}
"""


def test_placeholder_shows_the_error_in_its_display_name_and_keeps_the_owner(tmp_path):
    write(tmp_path / "p/_defaults.yaml", "owner: data-eng\n")
    write(tmp_path / "p/broken_orders.yaml", BROKEN)
    write(tmp_path / "p/not_yaml.yaml", 'version: 1\nname: not_yaml\ndescription: "open\nowner: x: y\n')
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "p"))

    broken = ns["broken_orders"]
    assert broken.dag_display_name.startswith("broken_orders: CONFIG ERROR line 5: incremental loads need 'cursor'")
    assert broken.dag_display_name.endswith("(+1 more)")  # and the unknown key 'curser'
    assert "CONFIG ERROR: " in broken.description and "broken_orders.yaml:5:" in broken.description
    assert broken.owner == "finance"
    assert broken.get_task("config_error").owner == "finance"

    unparsable = ns["not_yaml"]  # no YAML to read the owner from: the folder's _defaults.yaml gives it
    assert unparsable.dag_display_name.startswith("not_yaml: CONFIG ERROR line 3: YAML syntax error")
    assert unparsable.owner == "data-eng"


def test_without_any_owner_the_placeholder_keeps_airflows_default(tmp_path):
    write(tmp_path / "p/broken_orders.yaml", BROKEN.replace("owner: finance\n", ""))
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "p"))
    assert ns["broken_orders"].owner == "airflow"
