"""Hourly pipelines: each hour has its own lake partition, so the lake keeps every hour
of the day and re-running one hour replaces only that hour."""

from __future__ import annotations

import sqlite3
from datetime import date

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import interval_for_date
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract
from dag_factory.engine.wap import run_interval


def test_hourly_runs_keep_one_partition_per_hour(tmp_path):
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as con:
        con.execute("create table ev (id integer, at timestamp)")
        con.executemany("insert into ev values (?, ?)", [(h, f"2024-03-01 {h:02d}:30:00") for h in range(24)])
    src, lake = ConnInfo("s", "sqlite", host=str(db)), ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"))
    p = Pipeline(
        "events",
        SqlSource("s", table="ev"),
        Load("incremental", cursor="at"),
        Target("wh", "ev"),
        lake=Lake("lake", "raw/ev"),
        schedule="@hourly",
    )
    first = interval_for_date("@hourly", "UTC", date(2024, 3, 1))
    second = type(first)(first.end, first.end.replace(hour=2), "UTC")
    for iv in (first, second, first):
        run_interval(p, iv, src, lake, wh)
    parts = sorted(d.name for d in (tmp_path / "lake" / "raw/ev").iterdir())
    assert parts == ["ds=2024-03-01T0000", "ds=2024-03-01T0100"]
    assert extract(p, second, src, lake).rows == 1
    import duckdb

    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("select id from ev").fetchall()) == [0, 1]
