"""mode: history (SCD2) over 10 days of a real PostgreSQL source, into DuckDB and PostgreSQL.

The expected table is computed here in plain Python from the ordered extracts (docs/load-types.md
defines it); the engine's SQL rebuild must give exactly that, in order, re-run and shuffled.
"""

from __future__ import annotations

import random
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
State = dict[int, tuple[str, int, str]]  # id -> (name, amount, note)


def day(n: int) -> Interval:
    return Interval(DAY1 + timedelta(days=n - 1), DAY1 + timedelta(days=n))


def source_days() -> list[State]:
    """What the source holds on each of 10 days: inserts, updates, deletes, a key that comes back."""
    s: State = {1: ("a", 10, "x"), 2: ("b", 20, "x"), 3: ("c", 30, "x")}
    days = [dict(s)]
    s[2] = ("b", 21, "x")  # update
    s[4] = ("d", 40, "x")  # insert
    days.append(dict(s))
    del s[3]  # delete
    days.append(dict(s))
    s[1] = ("a", 10, "y")  # only the note changes
    s[3] = ("c", 30, "x")  # 3 comes back with the values it had
    days.append(dict(s))
    days.append(dict(s))  # a day without changes
    s[1] = ("a2", 11, "y")
    s[5] = ("e", None, "x")  # NULL amount
    days.append(dict(s))
    del s[1]
    s[2] = ("b", 22, "x")
    days.append(dict(s))
    s[1] = ("a2", 11, "y")  # 1 comes back as it was before its deletion
    s[6] = ("f", 60, "x")
    days.append(dict(s))
    s[4] = ("d", 40, "z")  # only the note changes
    s[5] = ("e", 50, "x")  # NULL -> a value
    days.append(dict(s))
    s[5] = ("e", 51, "x")
    del s[6]
    days.append(dict(s))
    return days


def scd2(extracts: dict[datetime, State], compare: tuple[int, ...]) -> list[tuple]:
    """The history by definition: walk the extracts by interval end; open, close, reopen."""
    rows: list[list] = []
    current: dict[int, int] = {}  # key -> index of its open version in rows
    previous: State = {}
    for end in sorted(extracts):
        state = extracts[end]
        for key, values in sorted(state.items()):
            if key in current and [previous[key][i] for i in compare] == [values[i] for i in compare]:
                continue
            if key in current:
                rows[current[key]][5] = end
            rows.append([key, *values, end, None])
            current[key] = len(rows) - 1
        for key in [k for k in current if k not in state]:
            rows[current.pop(key)][5] = end
        previous = state
    return sorted(((*r, r[5] is None) for r in rows), key=_order)


def _order(row: tuple) -> tuple:
    return (row[0], row[4])  # (id, valid_from) is unique


def _pg(conn: ConnInfo) -> psycopg.Connection:
    return psycopg.connect(host=conn.host, port=conn.port, user=conn.login, password=conn.password, dbname=conn.database)


class Wh:
    def __init__(self, kind: str, tmp: Path, pg_conn: ConnInfo) -> None:
        self.kind = kind
        self.conn = ConnInfo("wh", "duckdb", host=str(tmp / "wh.duckdb")) if kind == "duckdb" else replace(pg_conn, conn_id="wh")

    def _run(self, sql: str) -> list[tuple]:
        if self.kind == "duckdb":
            with duckdb.connect(self.conn.host) as db:
                return db.execute(sql).fetchall() if sql.startswith("SELECT") else db.execute(sql) and []
        with _pg(self.conn) as db:
            cur = db.execute(sql)
            return cur.fetchall() if sql.startswith("SELECT") else []

    def history(self) -> list[tuple]:
        rows = self._run("SELECT id, name, amount, note, valid_from, valid_to, is_current FROM analytics.dim")
        utc = lambda v: v.astimezone(UTC) if isinstance(v, datetime) else v  # noqa: E731
        return sorted((tuple(utc(v) for v in r) for r in rows), key=_order)

    def reset(self) -> None:
        self._run("DROP SCHEMA IF EXISTS analytics CASCADE")


@pytest.mark.parametrize("compare", [(), ("name", "amount")], ids=["all_columns", "compare_name_amount"])
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_history_over_ten_days(kind, compare, pg_conn, tmp_path):
    wh = Wh(kind, tmp_path, pg_conn)
    src = replace(pg_conn, conn_id="src")
    with _pg(src) as db:
        db.execute("CREATE SCHEMA src; CREATE TABLE src.dim (id int PRIMARY KEY, name text, amount int, note text)")
    lake_conn = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    pipeline = Pipeline(
        name="dim",
        source=SqlSource(conn_id="src", table="src.dim", batch_size=2),
        load=Load("history", primary_key=("id",), compare=compare),
        target=Target(conn_id="wh", table="analytics.dim"),
        lake=Lake("lake", "dim"),
    )
    cmp = (0, 1) if compare else (0, 1, 2)  # positions in (name, amount, note)

    def sync(state: State) -> None:
        with _pg(src) as db:
            db.execute("DELETE FROM src.dim")
            db.cursor().executemany("INSERT INTO src.dim VALUES (%s, %s, %s, %s)", [(k, *v) for k, v in state.items()])

    days = source_days()
    extracts: dict[datetime, State] = {}
    for n, state in enumerate(days, start=1):
        sync(state)
        extract(pipeline, day(n), src, lake_conn)
        load(pipeline, day(n), lake_conn, wh.conn)
        extracts[day(n).end] = state
        assert wh.history() == scd2(extracts, cmp), f"after day {n}"
    final = wh.history()
    assert len(final) > len(days[-1]) + 5  # versions were opened and closed, not just current rows
    reopened = [r for r in final if r[0] == 1]
    assert [r[6] for r in reopened].count(True) == 1 and len(reopened) >= 3

    extract(pipeline, day(10), src, lake_conn)  # re-running the latest interval changes nothing
    load(pipeline, day(10), lake_conn, wh.conn)
    assert wh.history() == final

    wh.reset()  # the same extracts loaded shuffled (from the lake): the same table at the end
    order = list(range(1, 11))
    random.Random(12).shuffle(order)
    loaded: dict[datetime, State] = {}
    for n in order:
        load(pipeline, day(n), lake_conn, wh.conn)
        loaded[day(n).end] = days[n - 1]
        assert wh.history() == scd2(loaded, cmp), f"shuffled {order}, after day {n}"
    assert wh.history() == final

    # re-running an older interval replaces its extract with what the source holds now (day 10's
    # state) and rebuilds the history from it (documented)
    extract(pipeline, day(5), src, lake_conn)
    load(pipeline, day(5), lake_conn, wh.conn)
    assert wh.history() == scd2(extracts | {day(5).end: days[-1]}, cmp)


def test_history_refuses_duplicate_keys(pg_conn, tmp_path):
    src = replace(pg_conn, conn_id="src")
    with _pg(src) as db:
        db.execute("CREATE SCHEMA src; CREATE TABLE src.dim (id int, name text); INSERT INTO src.dim VALUES (1, 'a'), (1, 'b')")
    lake_conn = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"))
    pipeline = Pipeline(
        name="dim",
        source=SqlSource(conn_id="src", table="src.dim"),
        load=Load("history", primary_key=("id",)),
        target=Target(conn_id="wh", table="analytics.dim"),
    )
    extract(pipeline, day(1), src, lake_conn)
    with pytest.raises(Exception, match="several rows per primary_key"):
        load(pipeline, day(1), lake_conn, wh)
