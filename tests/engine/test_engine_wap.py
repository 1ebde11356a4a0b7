"""Write-audit-publish: every check type passes on good data and fails on bad data,
a failing check leaves the target as it was, and transforms run inside the warehouse."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dag_factory.config.build import build_checks
from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine import wap
from dag_factory.engine.checks import CheckFailed
from dag_factory.engine.connections import ConnInfo
from tests.support.warehouses import WarehouseUnderTest

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
GOOD = [
    (1, 10, "paid", "12.50", "2024-03-01 10:00:00"),
    (2, 11, "refunded", "3.00", "2024-03-01 23:00:00"),
    (3, 12, "cancelled", "7.25", "2024-03-01 05:00:00"),
]
CHECKS = {
    "row_count": ({"row_count": {"min": 1, "max": 3}}, "row count"),
    "not_null": ({"not_null": ["id", "customer_id"]}, "rows with NULL"),
    "unique": ({"unique": ["id"]}, "duplicated values of id"),
    "accepted_values": (
        {"accepted_values": {"column": "status", "values": ["paid", "refunded", "cancelled"]}},
        "unexpected values",
    ),
    "freshness": ({"freshness": {"column": "updated_at", "max_age": "2d"}}, "newest updated_at"),
    "sql": ({"sql": "select * from {{ target }} where amount < 0 and {{ ds }} = {{ ds }}"}, "rows returned"),
}
# one bad row per check (or a bad table) that only that check catches
BAD = {
    "row_count": GOOD + [(4, 13, "paid", "1.00", "2024-03-01 06:00:00")],
    "not_null": GOOD + [(4, None, "paid", "1.00", "2024-03-01 06:00:00")],
    "unique": GOOD + [(3, 14, "paid", "1.00", "2024-03-01 06:00:00")],
    "accepted_values": GOOD + [(4, 13, "lost", "1.00", "2024-03-01 06:00:00")],
    "freshness": [(1, 10, "paid", "12.50", "2024-02-20 10:00:00")],
    "sql": GOOD + [(4, 13, "paid", "-5.00", "2024-03-01 06:00:00")],
}


def _source(path: Path, rows: list[tuple]) -> ConnInfo:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "create table orders (id integer, customer_id integer, status text, amount decimal(12,2), updated_at timestamp)"
        )
        db.executemany("insert into orders values (?,?,?,?,?)", rows)
    return ConnInfo("shop", "sqlite", host=str(path))


def _pipeline(checks: list[dict], mode: str = "full_refresh") -> Pipeline:
    return Pipeline(
        name="orders_checked",
        source=SqlSource("shop", table="orders"),
        load=Load(mode, cursor="updated_at" if mode == "incremental" else None),
        target=Target("wh", "analytics.orders"),
        lake=Lake("lake", "raw/orders"),
        checks=build_checks(checks),
    )


def _target(wh: WarehouseUnderTest) -> list[tuple]:
    return sorted(wh.rows("select id, status, amount from analytics.orders"))


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_check_passes_then_fails_and_target_keeps_its_content(kind, target_wh, tmp_path):
    spec, detail = CHECKS[kind]
    wh = target_wh
    pipeline = _pipeline([spec])
    good = wap.run_interval(pipeline, IV, _source(tmp_path / "s.db", GOOD), wh.lake, wh.conn, **wh.steps)
    assert [c.passed for c in good.checks] == [True]
    before = _target(wh)
    assert [r[0] for r in before] == [1, 2, 3] and before[0][2] == Decimal("12.50")

    with pytest.raises(CheckFailed) as failed:
        wap.run_interval(pipeline, IV, _source(tmp_path / "s.db", BAD[kind]), wh.lake, wh.conn, **wh.steps)
    message = str(failed.value)
    assert f"check '{pipeline.checks[0].name}'" in message and "FAILED" in message and detail in message
    assert _target(wh) == before  # nothing published


def test_failure_message_counts_and_shows_examples(target_wh, tmp_path):
    wh = target_wh
    rows = GOOD + [(i, 20 + i, "lost", "1.00", "2024-03-01 06:00:00") for i in range(4, 12)]
    pipeline = _pipeline(
        [{"not_null": ["id"]}, {"accepted_values": {"column": "status", "values": ["paid", "refunded", "cancelled"]}}]
    )
    with pytest.raises(CheckFailed) as failed:
        wap.run_interval(pipeline, IV, _source(tmp_path / "s.db", rows), wh.lake, wh.conn, **wh.steps)
    result = failed.value.result
    assert result.check.name == "accepted_values_status" and result.offending == 1  # one distinct bad value
    assert result.examples == [{"status": "lost", "row_count": 8}]
    assert "status='lost', row_count=8" in str(failed.value)


def test_incremental_check_failure_keeps_previous_interval_rows(target_wh, tmp_path):
    wh = target_wh
    pipeline = _pipeline([{"unique": ["id"]}], mode="incremental")
    wap.run_interval(pipeline, IV, _source(tmp_path / "s.db", GOOD), wh.lake, wh.conn, **wh.steps)
    before = _target(wh)
    with pytest.raises(CheckFailed):
        wap.run_interval(pipeline, IV, _source(tmp_path / "s.db", BAD["unique"]), wh.lake, wh.conn, **wh.steps)
    assert _target(wh) == before


SALES = [
    (1, "2024-03-01", "10.00"),
    (2, "2024-03-01", "5.50"),
    (3, "2024-03-02", "1.25"),
    (4, "2024-03-02", "2.25"),
    (5, "2024-03-02", "0.50"),
]
EXPECTED = {"2024-03-01": (2, Decimal("15.50")), "2024-03-02": (3, Decimal("4.00"))}


def _transform(conn_id: str) -> Pipeline:
    query = (
        "select order_date, count(*) as orders, sum(amount) as revenue from analytics.orders_raw "
        "{% if ds >= '2024-01-01' %}where order_date <= cast({{ ds }} as date) + 1{% endif %} group by order_date"
    )
    return Pipeline(
        name="daily_sales",
        source=SqlSource(conn_id, query=query),
        load=Load("full_refresh"),
        target=Target(conn_id, "marts.daily_sales"),
        checks=build_checks([{"row_count": {"min": 1}}, {"sql": "select * from {{ target }} where revenue < 0"}]),
    )


def test_transform_runs_inside_the_warehouse(target_wh):
    wh = target_wh
    with wh.open() as w:
        w.execute("create schema if not exists analytics")
        w.execute("create table analytics.orders_raw (id integer, order_date date, amount numeric(12,2))")
        for row in SALES:
            w.execute(
                f"insert into analytics.orders_raw values ({w.placeholder}, cast({w.placeholder} as date), {w.placeholder})",
                list(row),
            )
    pipeline = _transform(wh.conn.conn_id)
    assert pipeline.in_warehouse
    result = wap.run_interval(pipeline, IV, None, None, wh.conn, **wh.steps)  # no source or lake connection needed
    assert result.extracted is None and result.staged == 2 and all(c.passed for c in result.checks)
    rows = wh.rows("select cast(order_date as varchar), orders, revenue from marts.daily_sales order by 1")
    assert {d: (int(n), Decimal(r)) for d, n, r in rows} == EXPECTED
