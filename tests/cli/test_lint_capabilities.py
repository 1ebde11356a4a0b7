"""Issue 13.4: lint checks each environment's resolved pipeline against what its warehouse and
lake can do; the capabilities are the engine's own declaration (engine/warehouses/capabilities.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dag_factory.cli.lint import lint_command
from dag_factory.engine.warehouses.capabilities import WAREHOUSES
from tests.config.helpers import write

REPO = Path(__file__).resolve().parents[2]


def _lint(repo: Path, monkeypatch, capsys, *args: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(repo)
    for key in [k for k in __import__("os").environ if k.startswith("AIRFLOW_CONN_")]:
        monkeypatch.delenv(key)
    rc = lint_command(["pipelines"], env=args[0] if args else None)
    out = capsys.readouterr().out
    return rc, [line for line in out.splitlines() if line.startswith("pipelines/")]


@pytest.fixture
def examples(tmp_path) -> Path:
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    return tmp_path


def test_a_pipeline_without_an_s3_lake_fails_lint_where_prod_is_redshift(examples, monkeypatch, capsys):
    path = examples / "pipelines/shop_products.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("environments:")])  # drop its prod S3 lake
    rc, lines = _lint(examples, monkeypatch, capsys)
    assert rc == 1
    assert lines == [
        "pipelines/shop_products.yaml:3:1: a Redshift target 'redshift' (set at pipelines/_defaults.yaml:16) loads from "
        "the S3 lake (COPY / a registered partition), and this pipeline has no lake (in environment 'prod') [name] "
        "(add lake: {conn_id: <an aws connection>, path: raw/...} under environments.prod)"
    ]


def test_a_local_folder_lake_under_redshift_is_named(examples, monkeypatch, capsys):
    path = examples / "pipelines/shop_products.yaml"
    path.write_text(path.read_text().replace("{conn_id: s3_lake, path: raw/shop/products}", "{conn_id: lake, path: raw/p}"))
    rc, lines = _lint(examples, monkeypatch, capsys)
    assert rc == 1
    assert any("lake 'lake' has connection type fs, and a Redshift target 'redshift'" in line for line in lines), lines
    assert any("lake 'lake' is a local folder (fs), and workers are distributed here" in line for line in lines), lines


def test_athena_merge_and_checks_and_hourly_intervals(examples, monkeypatch, capsys):
    connections = examples / "pipelines/_connections.yaml"
    connections.write_text(connections.read_text() + "      athena: aws\n")
    path = examples / "pipelines/shop_orders.yaml"
    lake = "    lake: {conn_id: s3_lake, path: raw/shop/orders}"
    path.write_text(path.read_text().replace(lake, f"    target: {{conn_id: athena}}\n    schedule: '@hourly'\n{lake}"))
    rc, lines = _lint(examples, monkeypatch, capsys)
    assert rc == 1
    text = "\n".join(lines)
    assert "pipelines/shop_orders.yaml:14:3: an Athena target 'athena'" in text and "cannot merge by key" in text
    assert "checks need a staging table to query, which an Athena target 'athena'" in text
    assert "keeps one partition per day, and this schedule's intervals are 1:00:00" in text


def test_duckdb_file_warehouse_with_distributed_workers(tmp_path, monkeypatch, capsys):
    write(
        tmp_path / "pipelines/_connections.yaml", "connections: {shop_db: postgres, wh: duckdb, s3: aws}\nworkers: distributed\n"
    )
    write(
        tmp_path / "pipelines/orders_copy.yaml",
        """
        version: 1
        name: orders_copy
        source: {type: sql, conn_id: shop_db, table: orders}
        load: {mode: full_refresh}
        lake: {conn_id: s3, path: raw/orders}
        target: {conn_id: wh, table: analytics.orders}
        """,
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert lines == [
        "pipelines/orders_copy.yaml:6:19: target 'wh' is a DuckDB file, and workers are distributed here: each worker "
        "would write its own copy (DuckDB has one writer on one machine) (in environment 'local') [target.conn_id] "
        "(use PostgreSQL or Redshift as this environment's warehouse)"
    ]


@pytest.mark.parametrize("kind", sorted(WAREHOUSES))
def test_the_verdict_follows_each_warehouses_declared_capabilities(kind, tmp_path, monkeypatch, capsys):
    caps = WAREHOUSES[kind]
    conn_type = "aws" if kind == "athena" else kind
    write(tmp_path / "pipelines/_connections.yaml", f"connections: {{src: postgres, wh: {conn_type}, s3: aws}}\n")
    write(
        tmp_path / "pipelines/keyed.yaml",
        """
        version: 1
        name: keyed
        source: {type: sql, conn_id: src, table: orders}
        load: {mode: incremental, cursor: updated_at, primary_key: [id]}
        lake: {conn_id: s3, path: raw/orders}
        target: {conn_id: wh, table: analytics.orders}
        checks:
          - not_null: [id]
        """,
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    text = "\n".join(lines)
    assert ("cannot merge by key" in text) is (not caps.merges)
    assert ("checks need a staging table" in text) is (not caps.runs_checks)
    assert rc == (0 if caps.merges and caps.runs_checks else 1)


def test_a_broken_connections_file_is_reported_at_its_line(tmp_path, monkeypatch, capsys):
    write(tmp_path / "pipelines/_connections.yaml", "connections:\n  wh: duckdb\nworkers: everywhere\n")
    write(
        tmp_path / "pipelines/plain.yaml",
        "version: 1\nname: plain\nsource: {type: sql, conn_id: wh, table: t}\nload: {mode: full_refresh}\n"
        "target: {conn_id: wh, table: analytics.t2}\n",
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert rc == 1
    assert lines == ["pipelines/_connections.yaml:3:10: workers must be one of: local, distributed [workers]"]


def test_the_example_repository_lints_clean_in_every_environment(monkeypatch, capsys):
    rc, lines = _lint(REPO, monkeypatch, capsys)
    assert (rc, lines) == (0, [])


def test_new_adds_the_s3_lake_an_environment_needs_and_its_file_lints_clean(examples, monkeypatch, capsys):
    from dag_factory.cli import main

    monkeypatch.chdir(examples)
    args = ["--source", "shop_db.refunds", "--target", "warehouse.analytics.refunds", "--mode", "full_refresh"]
    assert main(["new", "shop_refunds", *args, "--no-input"]) == 0, capsys.readouterr().err
    text = (examples / "pipelines/shop_refunds.yaml").read_text()
    assert "environments:\n  prod:" in text and "    lake: {conn_id: s3_lake, path: raw/shop_refunds}" in text
    capsys.readouterr()
    assert _lint(examples, monkeypatch, capsys) == (0, [])


def test_history_and_lookback_against_what_each_warehouse_declares(examples, monkeypatch, capsys):
    """Issue 12: history is declared by DuckDB and PostgreSQL only (prod here is Redshift);
    a lookback would put re-read rows in two of Athena's ds partitions."""
    connections = examples / "pipelines/_connections.yaml"
    connections.write_text(connections.read_text() + "      athena: aws\n")
    path = examples / "pipelines/shop_customers.yaml"
    text = path.read_text()
    start = text.index("load:")
    end = text.index("\n", text.index("mode:", start))
    path.write_text(text[:start] + "load:\n  mode: history\n  primary_key: [id]" + text[end:])
    orders = examples / "pipelines/shop_orders.yaml"
    lake = "    lake: {conn_id: s3_lake, path: raw/shop/orders}"
    text = orders.read_text().replace("  primary_key: [id]", "  lookback: 2h")
    orders.write_text(text.replace(lake, f"    target: {{conn_id: athena}}\n{lake}"))
    rc, lines = _lint(examples, monkeypatch, capsys)
    assert rc == 1
    out = "\n".join(lines)
    assert "shop_customers.yaml" in out and "a Redshift target 'redshift'" in out and "cannot load mode history" in out
    assert "an Athena target 'athena'" in out and "a lookback's re-read rows would sit in two" in out
    local = [line for line in lines if "(in environment 'local')" in line]
    assert local == [], local  # DuckDB takes both


def test_local_staging_with_distributed_workers_per_environment(tmp_path, monkeypatch, capsys):
    """`workers: distributed` under one environment: a pipeline without a lake (local staging)
    fails there, named at file:line with the fix, and passes where workers are local."""
    write(
        tmp_path / "pipelines/_connections.yaml",
        """
        connections: {shop_db: postgres, wh: postgres, s3: aws}
        environments:
          prod:
            workers: distributed
        """,
    )
    write(
        tmp_path / "pipelines/orders_copy.yaml",
        """
        version: 1
        name: orders_copy
        source: {type: sql, conn_id: shop_db, table: orders}
        load: {mode: full_refresh}
        target: {conn_id: wh, table: analytics.orders}
        """,
    )
    rc, lines = _lint(tmp_path, monkeypatch, capsys)
    assert (rc, lines) == (0, [])  # `local` has no workers key: one machine, local staging is fine
    rc, lines = _lint(tmp_path, monkeypatch, capsys, "prod")
    assert rc == 1
    assert lines == [
        "pipelines/orders_copy.yaml:2:1: workers are distributed here, and without a lake the extracted rows stay on "
        "the worker that extracted them (in environment 'prod') [name] "
        "(add lake: {conn_id: <an aws connection>, path: raw/...} under environments.prod)"
    ]
