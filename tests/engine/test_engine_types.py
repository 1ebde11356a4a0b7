"""Values survive source -> lake -> warehouse exactly (decimals, dates, instants, NULL vs '')."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import duckdb
import psycopg
import pytest

from dag_factory.config.model import Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.runner import extract, load
from dag_factory.errors import EngineError

IV = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
BERLIN = timezone(timedelta(hours=2))

# id, amount numeric(12,2), d date, ts timestamptz, s text, b bool, f float8, raw bytea, t time, tsn timestamp
PG_ROWS = [
    (1, Decimal("1234567890.12"), date(2024, 2, 29), datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=BERLIN),
     "", True, 0.1, b"\x00\xffab", time(10, 11, 12, 500000), datetime(2024, 1, 1, 23, 59, 59, 999999)),
    (2, Decimal("-0.01"), date(1999, 12, 31), datetime(1970, 1, 1, tzinfo=UTC),
     None, False, -1e300, b"", time(0, 0), datetime(2000, 1, 1)),
    (3, None, None, None, 'multi\nline, "quoted"', None, None, None, None, None),
    (4, Decimal("0.10"), date(2024, 1, 1), datetime(2024, 6, 30, 22, 0, tzinfo=UTC),
     "ünïcödé ✓", True, 1.5, b"\\x41", time(23, 59, 59, 999999), datetime(2024, 6, 30, 22, 0)),
]  # fmt: skip


def _pg(c: ConnInfo) -> psycopg.Connection:
    return psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database)


def _expected_pg_rows() -> list[tuple]:
    out = []
    for r in PG_ROWS:
        ts = r[3].astimezone(UTC) if r[3] else None
        out.append((r[0], r[1], r[2], ts, r[4], r[5], r[6], r[7], r[8], r[9]))
    return out


def _fetch(wh: str, wh_conn: ConnInfo, sql: str) -> list[tuple]:
    if wh == "duckdb":
        with duckdb.connect(wh_conn.host) as db:
            db.execute("SET TimeZone='UTC'")
            return db.execute(sql).fetchall()
    with _pg(wh_conn) as db:
        return db.execute(sql).fetchall()


def _norm(row: tuple) -> tuple:
    # bytes from psycopg/duckdb may be memoryview/bytes; instants compared in UTC
    return tuple(
        bytes(v)
        if isinstance(v, (bytes, memoryview, bytearray))
        else v.astimezone(UTC)
        if isinstance(v, datetime) and v.tzinfo
        else v
        for v in row
    )


@pytest.mark.postgres
@pytest.mark.parametrize("wh", ["duckdb", "postgres"])
def test_postgres_types_end_to_end(pg_conn, tmp_path, wh):
    with _pg(pg_conn) as db:
        db.execute(
            "CREATE TABLE typed (id int, amount numeric(12,2), d date, ts timestamptz, s text, b bool,"
            " f float8, raw bytea, t time, tsn timestamp)"
        )
        with db.cursor() as cur:
            cur.executemany("INSERT INTO typed VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", PG_ROWS)
    wh_conn = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb")) if wh == "duckdb" else replace(pg_conn, conn_id="wh")
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("typed", SqlSource("src", table="typed", batch_size=3), Load("full_refresh"), Target("wh", "out.typed"))
    assert extract(p, IV, pg_conn, lake).rows == 4
    assert load(p, IV, lake, wh_conn).inserted == 4
    got = [_norm(r) for r in _fetch(wh, wh_conn, "SELECT * FROM out.typed ORDER BY id")]
    assert got == _expected_pg_rows()
    # NULL and '' are different things in the warehouse too
    assert _fetch(wh, wh_conn, "SELECT id FROM out.typed WHERE s = '' ORDER BY id") == [(1,)]
    assert _fetch(wh, wh_conn, "SELECT id FROM out.typed WHERE s IS NULL ORDER BY id") == [(2,)]


@pytest.mark.parametrize("wh", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sqlite_types_end_to_end(tmp_path, wh, request):
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE typed (id INTEGER, amount NUMERIC(12,2), d DATE, ts TIMESTAMPTZ, tsn DATETIME,"
            " s VARCHAR(20), b BOOLEAN, f REAL, raw BLOB, anything)"
        )
        db.executemany(
            "INSERT INTO typed VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (1, 19.99, "2024-02-29", "2024-03-01T14:00:00+02:00", "2024-03-01 12:00:00.250", "", 1, 0.1, b"\x00\x01", 7),
                (2, "1234567890.12", "1999-12-31", "2024-03-01 12:00:00", "2024-03-01T00:00:00", None, 0, None, None, None),
                (3, None, None, None, None, "x", None, 2.5, b"", 9),
            ],
        )
    src = ConnInfo("src", "sqlite", host=str(path))
    if wh == "duckdb":
        wh_conn = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb"))
    else:
        wh_conn = replace(request.getfixturevalue("pg_conn"), conn_id="wh")
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("typed", SqlSource("src", table="typed"), Load("full_refresh"), Target("wh", "typed"))
    extract(p, IV, src, lake)
    load(p, IV, lake, wh_conn)
    got = [_norm(r) for r in _fetch(wh, wh_conn, "SELECT * FROM typed ORDER BY id")]
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert got == [
        (1, Decimal("19.99"), date(2024, 2, 29), noon, datetime(2024, 3, 1, 12, 0, 0, 250000), "", True, 0.1, b"\x00\x01", 7),
        (2, Decimal("1234567890.12"), date(1999, 12, 31), noon, datetime(2024, 3, 1), None, False, None, None, None),
        (3, None, None, None, None, "x", None, 2.5, b"", 9),
    ]


@pytest.mark.postgres
def test_unconstrained_numeric_that_does_not_fit_raises(pg_conn, tmp_path):
    with _pg(pg_conn) as db:
        db.execute("CREATE TABLE n (x numeric); INSERT INTO n VALUES (1.5), (0.1234567891)")
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    p = Pipeline("n", SqlSource("src", table="n"), Load("full_refresh"), Target("wh", "n"))
    with pytest.raises(EngineError, match="does not fit"):
        extract(p, IV, pg_conn, lake)


@pytest.mark.postgres
def test_postgres_query_source_with_templates_and_percent(pg_conn, tmp_path):
    with _pg(pg_conn) as db:
        db.execute("CREATE TABLE ev (id int, name text, at timestamptz)")
        db.execute(
            "INSERT INTO ev VALUES (1, 'a%b', '2024-03-01 10:00Z'), (2, 'ab', '2024-03-01 11:00Z'),"
            " (3, 'a%c', '2024-03-02 00:00Z'), (4, 'it''s', '2024-03-01 12:00Z')"
        )
    lake = ConnInfo("lake", "fs", host=str(tmp_path / "lake"))
    q = "SELECT id, name FROM ev WHERE (name LIKE 'a%' OR name = 'it''s') AND at >= {{ data_interval_start }} AND at < {{data_interval_end}};"
    p = Pipeline("ev", SqlSource("src", query=q, columns=("id",)), Load("full_refresh"), Target("wh", "ev"))
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "w.duckdb"))
    extract(p, IV, pg_conn, lake)
    load(p, IV, lake, wh)
    with duckdb.connect(wh.host) as db:
        assert db.execute("SELECT id FROM ev ORDER BY id").fetchall() == [(1,), (2,), (4,)]
