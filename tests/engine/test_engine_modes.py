"""Each load mode end to end against real sources and warehouses.

The expected warehouse content is computed here, independently of the engine,
from a plain-Python model of the source and of each mode's definition.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract, load
from tests.support.warehouses import WarehouseUnderTest

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
INTERVALS = [Interval(DAY1 + timedelta(days=i), DAY1 + timedelta(days=i + 1)) for i in range(3)]


@dataclass(frozen=True)
class Row:
    id: int
    name: str | None
    amount: Decimal | None
    updated_at: datetime  # naive UTC


def at(day: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(2024, 3, day, hh, mm, ss, us)


# -- source state over time (a plain dict per step) ---------------------------
def initial_state() -> dict[int, Row]:
    rows = [
        Row(1, "alpha", Decimal("10.00"), at(1, 0, 0, 0)),  # exactly the interval start
        Row(2, "beta", Decimal("-0.01"), at(1, 9, 30)),
        Row(3, "", Decimal("1234567890.12"), at(1, 23, 59, 59)),  # '' is not NULL
        Row(4, None, None, at(1, 12)),  # NULLs
        Row(5, "epsilon", Decimal("0.10"), at(2, 0, 0, 0)),  # belongs to day 2, not day 1
    ]
    return {r.id: r for r in rows}


def mutate_before_day2(s: dict[int, Row]) -> None:
    s[6] = Row(6, "zeta", Decimal("6.60"), at(2, 8))  # insert
    s[2] = replace(s[2], name="beta v2", amount=Decimal("2.22"), updated_at=at(2, 10))  # cursor moves
    del s[3]  # delete a day-1 row
    s[4] = replace(s[4], name="delta, changed")  # changed without moving the cursor


def mutate_before_day3(s: dict[int, Row]) -> None:
    s[7] = Row(7, "eta", Decimal("7.00"), at(3, 0))
    s[8] = Row(8, 'quote "and" comma,', Decimal("8.88"), at(3, 23, 59, 59, 500000))
    del s[6]  # delete a day-2 row
    s[1] = replace(s[1], amount=Decimal("11.00"), updated_at=at(3, 1))


# -- the definition of each mode, independent of the engine -------------------
def in_interval(r: Row, iv: Interval) -> bool:
    return iv.start_utc.replace(tzinfo=None) <= r.updated_at < iv.end_utc.replace(tzinfo=None)


def model_extract(state: dict[int, Row], mode: str, iv: Interval) -> list[Row]:
    rows = list(state.values())
    return [r for r in rows if in_interval(r, iv)] if mode.startswith("incremental") else rows


def model_apply(target: list, mode: str, iv: Interval, extracted: list[Row]) -> list:
    if mode == "incremental":
        return [r for r in target if not in_interval(r, iv)] + extracted
    if mode == "incremental_pk":
        keys = {r.id for r in extracted}
        return [r for r in target if not in_interval(r, iv) and r.id not in keys] + extracted
    if mode == "snapshot":
        ds = date.fromisoformat(iv.ds)
        return [t for t in target if t[1] != ds] + [(r, ds) for r in extracted]
    if mode == "full_refresh":
        return list(extracted)
    raise AssertionError(mode)


def sort_key(x):
    r, ds = x if isinstance(x, tuple) else (x, date.min)
    return (ds, r.id, r.updated_at, r.name or "", r.amount or 0)


# -- real sources ---------------------------------------------------------------
class SqliteSrc:
    table = "orders"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "source.sqlite"
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC(12,2), updated_at TIMESTAMP)")
        self.conn = ConnInfo("src", "sqlite", host=str(self.path))

    def sync(self, state: dict[int, Row]) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("DELETE FROM orders")
            db.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?)",
                [
                    (r.id, r.name, None if r.amount is None else str(r.amount), r.updated_at.isoformat(sep=" "))
                    for r in state.values()
                ],
            )


class PostgresSrc:
    table = "src.orders"

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = replace(conn, conn_id="src")
        with self._db() as db:
            db.execute(
                "CREATE SCHEMA src; CREATE TABLE src.orders "
                "(id int PRIMARY KEY, name text, amount numeric(12,2), updated_at timestamptz)"
            )

    def _db(self) -> psycopg.Connection:
        c = self.conn
        return psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database)

    def sync(self, state: dict[int, Row]) -> None:
        with self._db() as db:
            db.execute("DELETE FROM src.orders")
            with db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO src.orders VALUES (%s, %s, %s, %s)",
                    [(r.id, r.name, r.amount, r.updated_at.replace(tzinfo=UTC)) for r in state.values()],
                )


# -- real warehouses (every one that runs here: tests/support/warehouses.py) ---------
def _norm_ts(v: datetime) -> datetime:
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v


class DuckWh:
    """One DuckDB file, for the source tests (http, mysql) that load into one warehouse."""

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "wh" / "warehouse.duckdb"
        self.conn = ConnInfo("wh", "duckdb", host=str(self.path))

    def fetch(self, snapshot: bool) -> list:
        with duckdb.connect(str(self.path)) as db:
            return _rows(db.execute(_select(snapshot)).fetchall(), snapshot)

    def reset(self) -> None:
        with duckdb.connect(str(self.path)) as db:
            db.execute("DROP SCHEMA IF EXISTS analytics CASCADE")


def _fetch(wh: WarehouseUnderTest, snapshot: bool) -> list:
    return _rows(wh.rows(_select(snapshot)), snapshot)


def _reset(wh: WarehouseUnderTest) -> None:
    with wh.open() as w:
        w.execute("DROP SCHEMA IF EXISTS analytics CASCADE")


def _select(snapshot: bool) -> str:
    return "SELECT id, name, amount, updated_at" + (", snapshot_date" if snapshot else "") + " FROM analytics.orders"


def _rows(raw: list[tuple], snapshot: bool) -> list:
    out = []
    for t in raw:
        assert t[2] is None or isinstance(t[2], Decimal), f"amount came back as {type(t[2])}"
        r = Row(t[0], t[1], t[2], _norm_ts(t[3]))
        out.append((r, t[4]) if snapshot else r)
    return sorted(out, key=sort_key)


MODES = {
    "incremental": Load("incremental", cursor="updated_at"),
    "incremental_pk": Load("incremental", cursor="updated_at", primary_key=("id",)),
    "snapshot": Load("snapshot"),
    "full_refresh": Load("full_refresh"),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source(request, tmp_path):
    if request.param == "sqlite":
        return SqliteSrc(tmp_path)
    return PostgresSrc(request.getfixturevalue("pg_conn"))


@pytest.mark.parametrize("mode", list(MODES))
def test_mode_over_three_days(mode, source, target_wh):
    snapshot = mode == "snapshot"
    warehouse = target_wh
    pipeline = Pipeline(
        name="orders_daily",
        source=SqlSource(conn_id="src", table=source.table, batch_size=2),  # several batches per run
        load=MODES[mode],
        target=Target(conn_id="wh", table="analytics.orders"),
        lake=None if warehouse.kind == "postgres" else Lake("lake", "sales/orders"),  # both lake layouts
    )

    def run(iv: Interval) -> None:
        extract(pipeline, iv, source.conn, warehouse.lake, aws=warehouse.aws)
        load(pipeline, iv, warehouse.lake, warehouse.conn, **warehouse.steps)

    state = initial_state()
    expected: list = []
    mutations = [lambda s: None, mutate_before_day2, mutate_before_day3]
    for iv, mutate in zip(INTERVALS, mutations, strict=True):
        mutate(state)
        source.sync(state)
        run(iv)
        expected = sorted(model_apply(expected, mode, iv, model_extract(state, mode, iv)), key=sort_key)
        assert _fetch(warehouse, snapshot) == expected, f"after {iv}"
        run(iv)  # re-running the same interval changes nothing
        assert _fetch(warehouse, snapshot) == expected, f"after re-running {iv}"

    # Another order, from an empty warehouse, against the final source state.
    _reset(warehouse)
    expected = []
    for i in (2, 0, 1):
        iv = INTERVALS[i]
        run(iv)
        expected = sorted(model_apply(expected, mode, iv, model_extract(state, mode, iv)), key=sort_key)
        assert _fetch(warehouse, snapshot) == expected, f"out of order, after {iv}"
