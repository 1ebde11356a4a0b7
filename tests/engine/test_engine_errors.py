"""Bad input fails early with our error types and a message that names the culprit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from dag_factory.config.model import Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident, quote_table, split_table, validate_identifier
from dag_factory.engine.lake import LocalLake
from dag_factory.engine.runner import extract, load, open_lake, open_warehouse
from dag_factory.engine.sources import open_source
from dag_factory.errors import ConnectionConfigError, EngineError

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))


def test_identifiers():
    assert quote_ident("Orders_1") == '"Orders_1"'
    assert quote_table("sales.orders") == '"sales"."orders"'
    assert quote_table("orders") == '"orders"'
    assert split_table("a.b") == ("a", "b")
    for bad in ["", "1abc", 'x"; DROP TABLE y; --', "a b", "a-b", "ümlaut"]:
        with pytest.raises(EngineError, match="invalid SQL identifier"):
            validate_identifier(bad)
    with pytest.raises(EngineError, match="invalid table name"):
        quote_table("a.b.c")


def _sqlite_source(tmp_path) -> ConnInfo:
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER, at TEXT, label TEXT)")
        db.execute("INSERT INTO t VALUES (1, '2024-03-01 10:00:00', 'a')")
    return ConnInfo("src", "sqlite", host=str(path))


def test_bad_identifier_in_pipeline_is_rejected_before_any_sql(tmp_path):
    src = _sqlite_source(tmp_path)
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("x", SqlSource("src", table="t; DROP TABLE t"), Load("full_refresh"), Target("wh", "t"))
    with pytest.raises(EngineError, match="invalid SQL identifier"):
        extract(p, IV, src, lake)
    p = Pipeline("x", SqlSource("src", table="t", columns=("id", "1=1")), Load("full_refresh"), Target("wh", "t"))
    with pytest.raises(EngineError, match="'1=1'"):
        extract(p, IV, src, lake)


def test_missing_partition_names_it(tmp_path):
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb"))
    p = Pipeline("orders", SqlSource("src", table="t"), Load("full_refresh"), Target("wh", "t"))
    with pytest.raises(EngineError, match=r"_staging/orders/ds=2024-03-01 not found"):
        load(p, IV, lake, wh)


def test_lake_paths_cannot_escape_the_root(tmp_path):
    lake = LocalLake(tmp_path)
    for bad in ["../x", "/etc", "a/../../b", "", ".hidden", "a//b"]:
        with pytest.raises(EngineError, match="invalid lake path"):
            lake.partition_dir(bad, "2024-03-01")
    with pytest.raises(EngineError, match="invalid partition '2024-3-1': expected YYYY-MM-DD"):
        lake.partition_dir("a", "2024-3-1")


def test_unsupported_connection_kinds():
    with pytest.raises(ConnectionConfigError, match=r"kind 'mysql' cannot be a warehouse"):
        open_warehouse(ConnInfo("w", "mysql"))
    with pytest.raises(ConnectionConfigError, match=r"kind 's3' cannot be a lake"):
        open_lake(ConnInfo("l", "s3"))
    with pytest.raises(ConnectionConfigError, match=r"kind 'duckdb' cannot be a source"):
        open_source(ConnInfo("s", "duckdb"))
    with pytest.raises(ConnectionConfigError, match="root folder"):
        open_lake(ConnInfo("l", "fs"))


def test_missing_sqlite_file(tmp_path):
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("x", SqlSource("src", table="t"), Load("full_refresh"), Target("wh", "t"))
    with pytest.raises(EngineError, match="does not exist"):
        extract(p, IV, ConnInfo("src", "sqlite", host=str(tmp_path / "nope.sqlite")), lake)
    assert not (tmp_path / "nope.sqlite").exists()


def test_existing_target_with_other_columns_is_not_touched(tmp_path):
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb"))
    with duckdb.connect(wh.host) as db:
        db.execute("CREATE TABLE t (id BIGINT, label INTEGER, extra VARCHAR)")
        db.execute("INSERT INTO t VALUES (7, 7, 'keep')")
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("id", pa.int64()), ("label", pa.string())]),
        iter([pa.record_batch([pa.array([1]), pa.array(["a"])], names=["id", "label"])]),
    )
    with open_warehouse(wh) as w, pytest.raises(EngineError) as e:
        w.load("t", Load("snapshot"), IV, reader)
    msg = str(e.value)
    # under the default on_schema_change (append_new_columns) `extra` may stay; int -> text is refused, naming the way out
    assert "main.t" in msg and "column label: target INTEGER, staged VARCHAR" in msg
    assert "full_refresh" in msg and "Nothing was published" in msg
    with duckdb.connect(wh.host) as db:
        assert db.execute("SELECT * FROM t").fetchall() == [(7, 7, "keep")]


def test_incremental_needs_a_time_cursor(tmp_path):
    src = _sqlite_source(tmp_path)  # `at` declared TEXT
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb"))
    p = Pipeline("x", SqlSource("src", table="t"), Load("incremental", cursor="at"), Target("wh", "t"))
    extract(p, IV, src, lake)
    with pytest.raises(EngineError, match="cursor column 'at' has type string"):
        load(p, IV, lake, wh)
    p = Pipeline("x", SqlSource("src", table="t"), Load("incremental", cursor="missing"), Target("wh", "t"))
    with pytest.raises(EngineError, match=r"has no column\(s\) \[.missing.\]"):
        extract(p, IV, src, lake)


def test_unknown_query_template(tmp_path):
    src = _sqlite_source(tmp_path)
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline(
        "x", SqlSource("src", query="SELECT * FROM t WHERE at > {{ yesterday }}"), Load("full_refresh"), Target("wh", "t")
    )
    with pytest.raises(EngineError, match="SQL template error: .yesterday. is undefined"):
        extract(p, IV, src, lake)


def test_sqlite_query_projection_of_unknown_column(tmp_path):
    src = _sqlite_source(tmp_path)
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("x", SqlSource("src", query="SELECT id FROM t", columns=("nope",)), Load("full_refresh"), Target("wh", "t"))
    with pytest.raises(EngineError, match=r"the query has no column\(s\) \['nope'\]"):
        extract(p, IV, src, lake)


def test_postgres_connection_failure_does_not_leak_the_password():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = ConnInfo("wh", "postgres", host="127.0.0.1", port=port, login="u", password="s3cr3t-pw", database="d")
    with pytest.raises(EngineError) as e:
        open_warehouse(conn)
    assert "wh (postgres)" in str(e.value) and "s3cr3t-pw" not in str(e.value) + repr(conn)


def test_jinja_in_queries_binds_values_and_refuses_python_internals():
    from dag_factory.engine.templating import render_sql

    sql, params = render_sql(
        "select * from t where d = {{ ds }}{% if ds > '2024' %} and x like '10%'{% endif %}",
        {"ds": "2024-03-01"},
        "%s",
        lambda s: s.replace("%", "%%"),
    )
    assert sql == "select * from t where d = %s and x like '10%%'"
    assert params == ["2024-03-01"]
    with pytest.raises(EngineError, match="SQL template error"):
        render_sql("{{ ds.__class__.__mro__[1].__subclasses__() }}", {"ds": "x"}, "?")
