"""load.on_schema_change reaches the typed Load (default: append_new_columns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dag_factory.config.loader import load_pipeline

YAML = """version: 1
name: orders
schedule: "@daily"
source: {{type: sql, conn_id: shop_db, table: orders}}
load: {{mode: incremental, cursor: updated_at{extra}}}
target: {{conn_id: warehouse, table: analytics.orders}}
"""


@pytest.mark.parametrize(
    ("extra", "policy"),
    [
        ("", "append_new_columns"),
        (", on_schema_change: sync_all_columns", "sync_all_columns"),
        (", on_schema_change: fail", "fail"),
    ],
)
def test_policy_is_built(tmp_path: Path, extra: str, policy: str) -> None:
    f = tmp_path / "orders.yaml"
    f.write_text(YAML.format(extra=extra))
    p = load_pipeline(f, tmp_path)
    assert p.load.on_schema_change == policy
