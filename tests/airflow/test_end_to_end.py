"""README command one, for real: the demo runs the example DAGs through Airflow
(`dag.test()`, SQLite metadata DB) into DuckDB; the warehouse is then checked
against the source shop DB, computed independently here."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
DAYS = 3
FIRST = date(2024, 3, 1)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    out = subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", "demo", "--days", str(DAYS), "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.count("-> DagRunState.SUCCESS") + out.stdout.count("-> success") == 4 * DAYS, out.stdout
    return home


def _source(home: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "shop.db") as db:
        return db.execute(sql).fetchall()


def _warehouse(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        return db.execute(sql).fetchall()


def test_full_refresh_target_equals_source_exactly(demo_home):
    src = [
        (i, n, c, Decimal(str(p)).quantize(Decimal("0.01")), bool(a))
        for i, n, c, p, a in _source(demo_home, "select id, name, category, price, active from products order by id")
    ]
    dst = _warehouse(demo_home, "select id, name, category, price, active from analytics.products order by id")
    assert dst == src
    assert all(isinstance(row[3], Decimal) for row in dst)  # money stays decimal


def test_snapshot_keeps_one_snapshot_per_day(demo_home):
    per_day = dict(
        _warehouse(demo_home, "select snapshot_date, count(*) from analytics.customers_snapshot group by 1 order by 1")
    )
    assert sorted(per_day) == [date(2024, 3, d) for d in range(1, DAYS + 1)]
    for day, count in per_day.items():  # customers are never deleted; each day adds some
        (expected,) = _source(demo_home, f"select count(*) from customers where signup_date <= '{day.isoformat()}'")[0]
        assert count == expected, day
    last = max(per_day)
    latest = _warehouse(
        demo_home, f"select id, name, email, city from analytics.customers_snapshot where snapshot_date = '{last}' order by id"
    )
    assert latest == _source(demo_home, "select id, name, email, city from customers order by id")


def test_incremental_merge_holds_the_latest_version_of_each_order(demo_home):
    start, end = datetime(2024, 3, 1, 3), datetime(2024, 3, 1 + DAYS, 3)
    source = {r[0]: r for r in _source(demo_home, "select id, status, amount, note, updated_at from orders")}
    target = _warehouse(demo_home, "select id, status, amount, note, updated_at from analytics.orders")
    ids = [r[0] for r in target]
    assert len(ids) == len(set(ids)), "merge left duplicate keys"
    in_window = {i for i, r in source.items() if start <= datetime.fromisoformat(r[4]) < end}
    assert in_window <= set(ids), "rows updated inside the loaded intervals are missing"
    for oid, status, amount, note, updated_at in target:
        if oid not in source:
            continue  # deleted from the shop after it was loaded: incremental loads keep it
        s = source[oid]
        assert (status, amount, note, updated_at) == (
            s[1],
            Decimal(str(s[2])).quantize(Decimal("0.01")),
            s[3],
            datetime.fromisoformat(s[4]),
        )
    notes = {r[3] for r in target}
    assert None in notes and "" in notes  # NULL and '' stay distinct


def test_transform_after_both_loads_gives_the_expected_aggregate(demo_home):
    """marts.daily_sales (in-warehouse transform, `after:` the two loads) recomputed here in Python."""
    orders = _warehouse(demo_home, "select id, customer_id, status, amount, order_date from analytics.orders")
    last = _warehouse(demo_home, "select max(snapshot_date) from analytics.customers_snapshot")[0][0]
    city = dict(_warehouse(demo_home, f"select id, city from analytics.customers_snapshot where snapshot_date = '{last}'"))
    expected: dict[tuple, list] = {}
    for _id, customer, status, amount, order_date in orders:
        if status == "paid" and customer in city:
            bucket = expected.setdefault((order_date, city[customer]), [0, Decimal("0")])
            bucket[0] += 1
            bucket[1] += amount
    got = {
        (d, c): [n, r] for d, c, n, r in _warehouse(demo_home, "select order_date, city, orders, revenue from marts.daily_sales")
    }
    assert got == expected and got
