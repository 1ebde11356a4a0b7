"""Late rows (load.lookback) and soft-deleted source rows (load.hard_delete), on a real
PostgreSQL source into DuckDB and PostgreSQL. Expected tables come from plain-Python models."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract, load

pytestmark = pytest.mark.postgres

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)


def day(n: int) -> Interval:
    return Interval(DAY1 + timedelta(days=n - 1), DAY1 + timedelta(days=n))


def at(n: int, hour: int) -> datetime:
    return DAY1 + timedelta(days=n - 1, hours=hour)


def _pg(conn: ConnInfo, **kw) -> psycopg.Connection:
    return psycopg.connect(host=conn.host, port=conn.port, user=conn.login, password=conn.password, dbname=conn.database, **kw)


class Warehouse:
    def __init__(self, kind: str, tmp: Path, pg_conn: ConnInfo) -> None:
        self.kind = kind
        self.conn = ConnInfo("wh", "duckdb", host=str(tmp / "wh.duckdb")) if kind == "duckdb" else replace(pg_conn, conn_id="wh")

    def rows(self, columns: str) -> list[tuple]:
        sql = f"SELECT {columns} FROM analytics.t ORDER BY 1"
        if self.kind == "duckdb":
            with duckdb.connect(self.conn.host) as db:
                return [tuple(_utc(v) for v in r) for r in db.execute(sql).fetchall()]
        with _pg(self.conn) as db:
            return [tuple(_utc(v) for v in r) for r in db.execute(sql).fetchall()]

    def reset(self) -> None:
        if self.kind == "duckdb":
            with duckdb.connect(self.conn.host) as db:
                db.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
        else:
            with _pg(self.conn) as db:
                db.execute("DROP SCHEMA IF EXISTS analytics CASCADE")


def _utc(v: object) -> object:
    return v.astimezone(UTC) if isinstance(v, datetime) else v


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path, pg_conn) -> Warehouse:
    return Warehouse(request.param, tmp_path, pg_conn)


def _runner(load_cfg: Load, src: ConnInfo, wh: Warehouse, tmp: Path):
    lake_conn = ConnInfo("lake", "fs", extra={"path": str(tmp / "lake")})
    pipeline = Pipeline(
        name="t",
        source=SqlSource(conn_id="src", table="src.t", batch_size=2),
        load=load_cfg,
        target=Target(conn_id="wh", table="analytics.t"),
        lake=Lake("lake", "t"),
    )

    def run(iv: Interval) -> None:
        extract(pipeline, iv, src, lake_conn)
        load(pipeline, iv, lake_conn, wh.conn)

    return run


# -- lookback -----------------------------------------------------------------------
@pytest.mark.parametrize("keyed", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("lookback", [timedelta(days=1), timedelta(0)], ids=["lookback_1d", "no_lookback"])
def test_late_row_arrives_with_lookback(keyed, lookback, warehouse, pg_conn, tmp_path):
    """A row with updated_at in day 1 whose transaction commits after day 1 was read: the day-2
    run re-reads day 1 with lookback and loads it; without lookback it is never loaded."""
    src = replace(pg_conn, conn_id="src")
    with _pg(src) as db:
        db.execute("CREATE SCHEMA src; CREATE TABLE src.t (id int, v text, updated_at timestamptz)")
        db.execute("INSERT INTO src.t VALUES (1, 'a', %s), (2, 'b', %s)", [at(1, 1), at(1, 23)])
    run = _runner(
        Load("incremental", cursor="updated_at", primary_key=("id",) if keyed else (), lookback=lookback),
        src,
        warehouse,
        tmp_path,
    )

    late = _pg(src)  # a long transaction: stamped inside day 1, committed after day 1 was extracted
    late.execute("INSERT INTO src.t VALUES (9, 'late', %s)", [at(1, 20)])
    run(day(1))
    late.commit()
    late.close()
    with _pg(src) as db:  # day 2's own rows, and a day-1 row updated on day 2 (its cursor moves)
        db.execute("INSERT INTO src.t VALUES (3, 'c', %s)", [at(2, 5)])
        db.execute("UPDATE src.t SET v = 'b2', updated_at = %s WHERE id = 2", [at(2, 6)])
    run(day(2))

    everything = [(1, "a", at(1, 1)), (2, "b2", at(2, 6)), (3, "c", at(2, 5)), (9, "late", at(1, 20))]
    got = warehouse.rows("id, v, updated_at")
    if not lookback:  # documented: without lookback the late row is lost (day 1 ran before it committed)
        assert 9 not in [r[0] for r in got]
        if keyed:
            assert got == [r for r in everything if r[0] != 9]
        return
    assert got == everything
    # idempotent and order-independent: re-running either day, in any order, changes nothing
    for iv in (day(2), day(1), day(2)):
        run(iv)
        assert warehouse.rows("id, v, updated_at") == everything
    warehouse.reset()
    for iv in (day(2), day(1)):
        run(iv)
    assert warehouse.rows("id, v, updated_at") == everything


def test_lookback_without_key_replaces_the_widened_window(warehouse, pg_conn, tmp_path):
    """No key: the run's window [start - lookback, end) in the target becomes exactly the source's
    rows in that window (a row deleted at the source inside the window goes, older rows stay)."""
    src = replace(pg_conn, conn_id="src")
    with _pg(src) as db:
        db.execute("CREATE SCHEMA src; CREATE TABLE src.t (id int, v text, updated_at timestamptz)")
        db.execute(
            "INSERT INTO src.t VALUES (1, 'old', %s), (2, 'x', %s), (3, 'y', %s), (4, 'z', %s)",
            [at(1, 10), at(2, 10), at(2, 23), at(3, 2)],
        )
    run = _runner(Load("incremental", cursor="updated_at", lookback=timedelta(hours=12)), src, warehouse, tmp_path)
    for n in (1, 2, 3):
        run(day(n))
    with _pg(src) as db:
        db.execute("DELETE FROM src.t WHERE id IN (2, 3)")  # 2 is before day 3's window, 3 inside it
        db.execute("INSERT INTO src.t VALUES (5, 'w', %s)", [at(2, 13)])
    run(day(3))  # window [day2 12:00, day4)
    assert warehouse.rows("id, v") == [(1, "old"), (2, "x"), (4, "z"), (5, "w")]


# -- hard_delete ----------------------------------------------------------------------
# (id, name, deleted, updated_at) per day: what the source holds after that day's changes
def _source_days(flag: str) -> list[dict[int, tuple]]:
    gone = (lambda n: at(n, 12)) if flag == "deleted_at" else (lambda n: True)
    alive = None if flag == "deleted_at" else False
    days: list[dict[int, tuple]] = []
    s = {1: ("a", alive, at(1, 1)), 2: ("b", alive, at(1, 2)), 3: ("c", alive, at(1, 3))}
    days.append(dict(s))
    s[2] = ("b", gone(2), at(2, 1))  # deleted
    s[4] = ("d", alive, at(2, 2))
    days.append(dict(s))
    s[2] = ("b again", alive, at(3, 1))  # re-inserted
    s[3] = ("c", gone(3), at(3, 2))  # deleted
    days.append(dict(s))
    s[1] = ("a", gone(4), at(4, 1))
    s[2] = ("b", gone(4), at(4, 2))  # deleted a second time
    s[4] = ("d2", alive, at(4, 3))
    days.append(dict(s))
    s[1] = ("a is back", alive, at(5, 1))
    days.append(dict(s))
    return days


def _model(target: dict[int, tuple], state: dict[int, tuple], iv: Interval, alive: object) -> dict[int, tuple]:
    """incremental + primary_key + hard_delete, by definition: the interval's rows and keys leave
    the target; the interval's rows that are not deleted come back."""
    inside = {k: r for k, r in state.items() if iv.start <= r[2] < iv.end}
    out = {k: r for k, r in target.items() if not (iv.start <= r[2] < iv.end) and k not in inside}
    out.update({k: r for k, r in inside.items() if r[1] == alive})
    return out


@pytest.mark.parametrize("flag", ["deleted_at", "is_deleted"])
def test_hard_delete_keys_deleted_and_reinserted(flag, warehouse, pg_conn, tmp_path):
    src = replace(pg_conn, conn_id="src")
    kind = "timestamptz" if flag == "deleted_at" else "boolean"
    with _pg(src) as db:
        db.execute(
            f"CREATE SCHEMA src; CREATE TABLE src.t (id int PRIMARY KEY, name text, {flag} {kind}, updated_at timestamptz)"
        )
    run = _runner(Load("incremental", cursor="updated_at", primary_key=("id",), hard_delete=flag), src, warehouse, tmp_path)
    alive = None if flag == "deleted_at" else False

    def sync(state: dict[int, tuple]) -> None:
        with _pg(src) as db:
            db.execute("DELETE FROM src.t")
            db.cursor().executemany("INSERT INTO src.t VALUES (%s, %s, %s, %s)", [(k, *r) for k, r in state.items()])

    def table() -> dict[int, tuple]:
        return {r[0]: tuple(r[1:]) for r in warehouse.rows(f"id, name, {flag}, updated_at")}

    expected: dict[int, tuple] = {}
    days = _source_days(flag)
    for n, state in enumerate(days, start=1):
        sync(state)
        run(day(n))
        expected = _model(expected, state, day(n), alive)
        assert table() == expected, f"after day {n}"
        run(day(n))
        assert table() == expected, f"after re-running day {n}"
    assert sorted(expected) == [1, 4]  # 1 deleted and back, 2 back then deleted again, 3 gone for good

    warehouse.reset()  # out of order against the final source: the same table
    for n in (5, 2, 4, 1, 3):
        run(day(n))
    final: dict[int, tuple] = {}
    for n in range(1, 6):
        final = _model(final, days[-1], day(n), alive)
    assert table() == final == expected
