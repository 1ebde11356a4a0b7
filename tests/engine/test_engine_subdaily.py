"""Hourly pipelines: each hour has its own lake partition, so the lake keeps every hour
of the day and re-running one hour replaces only that hour."""

from __future__ import annotations

import sqlite3
from datetime import date

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import interval_for_date
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract, open_lake
from dag_factory.engine.wap import run_interval


def test_hourly_runs_keep_one_partition_per_hour(tmp_path, target_wh):
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as con:
        con.execute("create table ev (id integer, at timestamp)")
        con.executemany("insert into ev values (?, ?)", [(h, f"2024-03-01 {h:02d}:30:00") for h in range(24)])
    src, lake, wh = ConnInfo("s", "sqlite", host=str(db)), target_wh.lake, target_wh
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
        run_interval(p, iv, src, lake, wh.conn, **wh.steps)
    stored = open_lake(lake, wh.aws)
    parts = [
        ds for ds in ("2024-03-01", "2024-03-01T0000", "2024-03-01T0100", "2024-03-01T0200") if stored.has_partition("raw/ev", ds)
    ]
    assert parts == ["2024-03-01T0000", "2024-03-01T0100"]
    assert extract(p, second, src, lake, aws=wh.aws).rows == 1
    assert sorted(r[0] for r in wh.rows("select id from ev")) == [0, 1]
