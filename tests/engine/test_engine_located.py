"""Issue 10.4: an engine error names the pipeline, its YAML file, the step and, when a template
in the YAML or a query file caused it, the line where that template is written."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dag_factory.config.loader import load_pipeline
from dag_factory.config.schedules import Interval
from dag_factory.engine import wap
from dag_factory.engine.checks import CheckFailed
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract
from dag_factory.errors import EngineError, StepLocation
from tests.config.helpers import write

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
HEAD = 'version: 1\nname: {name}\nschedule: "@daily"\n'
TAIL = "load: {mode: full_refresh}\ntarget: {conn_id: warehouse, table: analytics.t}\n"


@pytest.fixture
def conns(tmp_path: Path) -> tuple[ConnInfo, ConnInfo, ConnInfo]:
    src = tmp_path / "shop.sqlite"
    with sqlite3.connect(src) as db:
        db.execute("create table orders (id integer, updated_at timestamp)")
        db.execute("insert into orders values (1, '2024-03-01 10:00:00')")
    return (
        ConnInfo("shop_db", "sqlite", host=str(src)),
        ConnInfo("lake", "fs", host=str(tmp_path / "lake")),
        ConnInfo("warehouse", "duckdb", host=str(tmp_path / "wh.duckdb")),
    )


def _pipeline(tmp_path: Path, monkeypatch, name: str, body: str):
    monkeypatch.chdir(tmp_path)  # the loader shows paths relative to the working folder, as `run` does
    write(tmp_path / f"pipelines/{name}.yaml", HEAD.format(name=name) + body)
    return load_pipeline(Path(f"pipelines/{name}.yaml"), Path("pipelines"))


def test_undefined_name_in_a_block_query_points_at_its_yaml_line(tmp_path, monkeypatch, conns):
    p = _pipeline(
        tmp_path,
        monkeypatch,
        "q_typo",
        "source:\n  type: sql\n  conn_id: shop_db\n  query: |\n    select id, updated_at\n    from orders\n"
        "    where updated_at >= {{ data_interval_strt }}\n" + TAIL,
    )
    with pytest.raises(EngineError) as e:
        extract(p, IV, conns[0], conns[1])
    assert e.value.where == StepLocation("q_typo", "pipelines/q_typo.yaml", "extract", 10, "", "source.query")
    assert str(e.value).startswith(
        "pipelines/q_typo.yaml:10 [source.query]: pipeline 'q_typo', step extract: SQL template error: 'data_interval_strt' is undefined"
    )


def test_error_inside_a_query_file_points_at_the_line_there(tmp_path, monkeypatch, conns):
    write(tmp_path / "pipelines/sql/orders.sql", "select id,\n  updated_at\nfrom orders\nwhere id > {{ ds | nosuchfilter }}\n")
    p = _pipeline(tmp_path, monkeypatch, "q_file", "source: {type: sql, conn_id: shop_db, query_file: sql/orders.sql}\n" + TAIL)
    with pytest.raises(EngineError) as e:
        extract(p, IV, conns[0], conns[1])
    where = e.value.where
    assert where is not None and (where.step, where.line, where.key_path) == ("extract", 4, "source.query_file")
    assert where.at_file.endswith("pipelines/sql/orders.sql") and where.file == "pipelines/q_file.yaml"
    assert str(e.value).startswith(
        f"{where.at_file}:4 [source.query_file]: pipeline 'q_file' (pipelines/q_file.yaml), step extract:"
    )
    assert "nosuchfilter" in str(e.value)


def test_check_template_and_check_failure_name_the_check_step(tmp_path, monkeypatch, conns):
    p = _pipeline(
        tmp_path,
        monkeypatch,
        "chk",
        "source: {type: sql, conn_id: shop_db, table: orders}\n"
        + TAIL
        + "checks:\n  - row_count: {min: 5}\n  - sql: |\n      select *\n      from {{ tagret }}\n",
    )
    with pytest.raises(CheckFailed) as failed:
        wap.run_interval(p, IV, *conns)
    assert failed.value.where == StepLocation("chk", "pipelines/chk.yaml", "check")
    assert "step check: check 'row_count' (row count >= 5) FAILED: 1 rows staged" in str(failed.value)
    with pytest.raises(EngineError) as e:
        wap.check(p, p.checks[1].name, IV, conns[2])
    assert e.value.where == StepLocation("chk", "pipelines/chk.yaml", "check", 11, "", "checks[1].sql")


def test_warehouse_error_names_the_publish_step_and_file(tmp_path, monkeypatch, conns):
    p = _pipeline(tmp_path, monkeypatch, "pub", "source: {type: sql, conn_id: shop_db, table: orders}\n" + TAIL)
    with pytest.raises(EngineError) as e:
        wap.publish(p, IV, conns[2])  # nothing staged yet
    assert e.value.where == StepLocation("pub", "pipelines/pub.yaml", "publish")
    assert str(e.value).startswith("pipelines/pub.yaml: pipeline 'pub', step publish: nothing staged for analytics.t")


def test_other_errors_keep_their_type_and_get_the_location_as_a_note(tmp_path, monkeypatch, conns):
    p = _pipeline(tmp_path, monkeypatch, "note", "source: {type: sql, conn_id: shop_db, table: orders}\n" + TAIL)
    bad_lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake_is_a_file"))
    (tmp_path / "lake_is_a_file").write_text("not a folder")
    with pytest.raises(OSError) as e:
        extract(p, IV, conns[0], bad_lake)
    assert "in pipelines/note.yaml: pipeline 'note', step extract" in e.value.__notes__
