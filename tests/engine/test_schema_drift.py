"""Schema drift end to end: each kind of source change x each on_schema_change policy x each
load mode, DuckDB and PostgreSQL targets, PostgreSQL and MariaDB sources, over consecutive days.

The expected warehouse is computed here from docs/schema-changes.md's rules on a plain-Python
model (columns with a logical type, rows as dicts), not from the engine's plan. Each day the
source table is recreated with that day's DDL (an ALTER's effect), so a reorder is a real one.
After the change, day 1 is loaded again from its lake partition (written before the change):
partitions keep their own schema and a load unifies by column name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
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
from dag_factory.errors import EngineError

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
IVS = [Interval(DAY1 + timedelta(days=i), DAY1 + timedelta(days=i + 1)) for i in range(3)]

# logical types: ("int",) ("str",) ("dec", p, s) ("ts",); the staged type of a source column
BASE = [("id", ("int",)), ("name", ("str",)), ("amount", ("dec", 10, 2)), ("updated_at", ("ts",))]
CHANGED = {  # the source's columns from day 2 on
    "add": [*BASE, ("coupon", ("str",))],
    "drop": [c for c in BASE if c[0] != "name"],
    "widen": [("id", ("int",)), ("name", ("str",)), ("amount", ("dec", 14, 2)), ("updated_at", ("ts",))],
    "narrow": [("id", ("int",)), ("name", ("str",)), ("amount", ("dec", 8, 2)), ("updated_at", ("ts",))],
    "incompatible": [("id", ("int",)), ("name", ("str",)), ("amount", ("str",)), ("updated_at", ("ts",))],
    "rename": [("id", ("int",)), ("title", ("str",)), ("amount", ("dec", 10, 2)), ("updated_at", ("ts",))],
    "reorder": [("amount", ("dec", 10, 2)), ("updated_at", ("ts",)), ("name", ("str",)), ("id", ("int",))],
}
MODES = {
    "incremental": Load("incremental", cursor="updated_at"),
    "incremental_pk": Load("incremental", cursor="updated_at", primary_key=("id",)),
    "snapshot": Load("snapshot"),
    "full_refresh": Load("full_refresh"),
}
POLICIES = ["append_new_columns", "sync_all_columns", "fail", "ignore"]


def _ts(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour)


# -- the source's rows: logical values, projected onto each day's columns ----------------
def rows_for_day(day: int, kind: str) -> list[dict]:
    """Two new rows a day, and from day 2 an update of row 1 (moves its cursor)."""
    big = kind == "widen" and day >= 2
    out = [
        {
            "id": day * 10 + 1,
            "name": f"n{day}a",
            "amount": Decimal("123456789.12") if big else Decimal("1.25"),
            "at": _ts(day, 1),
        },
        {"id": day * 10 + 2, "name": "", "amount": None, "at": _ts(day, 5), "coupon": f"c{day}" if day >= 2 else None},
    ]
    if day >= 2:
        out.append({"id": 11, "name": "n1a v2", "amount": Decimal("-2.50"), "at": _ts(day, 7)})
    return out


def project(row: dict, columns: list[tuple[str, tuple]]) -> dict:
    out = {}
    for name, t in columns:
        if name == "title":
            out[name] = row["name"]  # a rename keeps the values
        elif name == "updated_at":
            out[name] = row["at"]
        elif name == "amount" and t == ("str",):
            out[name] = None if row["amount"] is None else f"{row['amount']:.2f}"
        else:
            out[name] = row.get(name)
    return out


def source_state(day: int, kind: str) -> tuple[list[tuple[str, tuple]], list[dict]]:
    columns = BASE if day == 1 else CHANGED[kind]
    rows: dict[int, dict] = {}
    for d in range(1, day + 1):
        for r in rows_for_day(d, kind):
            rows[r["id"]] = r
    return columns, [project(r, columns) for r in rows.values()]


# -- the definitions (docs/schema-changes.md), on the model ------------------------------
class Refused(Exception):
    pass


@dataclass
class Model:
    columns: list[tuple[str, tuple]]  # the target's, in order ([] = no table)
    rows: list[dict]


def _fits_by_type(staged: tuple, target: tuple) -> bool:
    if staged == target:
        return True
    if staged[0] == target[0] == "dec":
        return staged[2] <= target[2] and staged[1] - staged[2] <= target[1] - target[2]
    return False


def _values_fit(values: list, target: tuple) -> bool:
    if target[0] != "dec":
        return False
    return all(v is None or (isinstance(v, Decimal) and abs(v) < 10 ** (target[1] - target[2])) for v in values)


def _widens(target: tuple, staged: tuple) -> bool:
    return staged[0] == target[0] == "dec" and staged[2] >= target[2] and staged[1] - staged[2] >= target[1] - target[2]


def apply(m: Model, staged_cols: list[tuple[str, tuple]], staged: list[dict], mode: str, policy: str, iv: Interval) -> Model:
    """The target after publishing `staged`; raises Refused when the policy stops the run."""
    extra = [("snapshot_date", ("date",))] if mode == "snapshot" else []
    if mode == "full_refresh" or not m.columns:
        columns = [*staged_cols, *extra]
        return _publish(Model(columns, [] if mode == "full_refresh" else m.rows), staged, mode, iv)
    have = dict(m.columns)
    columns = list(m.columns)
    new = [(n, t) for n, t in staged_cols if n not in have]
    gone = [n for n, _ in m.columns if n not in dict(staged_cols) and n != "snapshot_date"]
    changed = [(n, t) for n, t in staged_cols if n in have and have[n] != t]
    if policy == "fail" and (new or gone or changed):
        raise Refused
    for n, t in changed:
        values = [r[n] for r in staged]
        if _fits_by_type(t, have[n]) or _values_fit(values, have[n]):
            continue
        if policy != "ignore" and _widens(have[n], t):
            columns = [(c, t if c == n else ct) for c, ct in columns]
            continue
        raise Refused
    rows = m.rows
    if policy in ("append_new_columns", "sync_all_columns"):
        columns += new
        rows = [{**r, **{n: None for n, _ in new}} for r in rows]
    if policy == "sync_all_columns":
        columns = [c for c in columns if c[0] not in gone]
        rows = [{k: v for k, v in r.items() if k not in gone} for r in rows]
    return _publish(Model(columns, rows), staged, mode, iv)


def _publish(m: Model, staged: list[dict], mode: str, iv: Interval) -> Model:
    names = [n for n, _ in m.columns]
    in_iv = lambda r: iv.start_utc.replace(tzinfo=None) <= r["updated_at"] < iv.end_utc.replace(tzinfo=None)  # noqa: E731
    rows = m.rows
    if mode == "incremental":
        rows = [r for r in rows if not in_iv(r)]
    elif mode == "incremental_pk":
        keys = {s["id"] for s in staged}
        rows = [r for r in rows if not in_iv(r) and r["id"] not in keys]
    elif mode == "snapshot":
        rows = [r for r in rows if r["snapshot_date"] != date.fromisoformat(iv.ds)]
    new = [{n: s.get(n) for n in names} for s in staged]
    if mode == "snapshot":
        new = [{**r, "snapshot_date": date.fromisoformat(iv.ds)} for r in new]
    return Model(m.columns, rows + new)


def extracted(mode: str, rows: list[dict], iv: Interval) -> list[dict]:
    if not mode.startswith("incremental"):
        return rows
    return [r for r in rows if iv.start_utc.replace(tzinfo=None) <= r["updated_at"] < iv.end_utc.replace(tzinfo=None)]


# -- real sources and warehouses -----------------------------------------------------------
def _ddl(columns: list[tuple[str, tuple]], dialect: str) -> str:
    def one(t: tuple) -> str:
        if t[0] == "int":
            return "INT"
        if t[0] == "str":
            return "VARCHAR(200)"
        if t[0] == "dec":
            return f"DECIMAL({t[1]},{t[2]})"
        return "DATETIME(6)" if dialect == "mysql" else "TIMESTAMP"

    return ", ".join(f"{n} {one(t)}" for n, t in columns)


class Source:
    def __init__(self, kind: str, conn: ConnInfo, connect) -> None:
        self.kind, self.conn, self.connect = kind, conn, connect

    def put(self, table: str, columns: list[tuple[str, tuple]], rows: list[dict]) -> None:
        ph = "%s"
        with self.connect() as db:
            cur = db.cursor()
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} ({_ddl(columns, self.kind)})")
            names = [n for n, _ in columns]
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([ph] * len(names))})",
                [tuple(r[n] for n in names) for r in rows],
            )
            if self.kind == "postgres":
                db.commit()


def _logical(catalog: str) -> tuple:
    t = catalog.lower()
    m = re.match(r"(?:numeric|decimal)\((\d+),(\d+)\)", t)
    if m:
        return ("dec", int(m.group(1)), int(m.group(2)))
    if t in ("integer", "int", "int4", "bigint", "int8"):
        return ("int",)
    if t in ("text", "varchar", "character varying"):
        return ("str",)
    if t.startswith("timestamp"):
        return ("ts",)
    if t == "date":
        return ("date",)
    return (t,)


class Warehouse:
    def __init__(self, kind: str, conn: ConnInfo) -> None:
        self.kind, self.conn = kind, conn

    def read(self, table: str) -> Model:
        q_cols = (
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'analytics' AND table_name = ? ORDER BY column_index"
            if self.kind == "duckdb"
            else "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass('analytics.' || %s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        if self.kind == "duckdb":
            with duckdb.connect(self.conn.host, read_only=True) as db:
                cols = db.execute(q_cols, [table]).fetchall()
                data = db.execute(f"SELECT * FROM analytics.{table}").fetchall() if cols else []
        else:
            c = self.conn
            with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database) as db:
                cols = db.execute(q_cols, [table]).fetchall()
                data = db.execute(f"SELECT * FROM analytics.{table}").fetchall() if cols else []
        columns = [(n, _logical(t)) for n, t in cols]
        return Model(columns, [dict(zip([n for n, _ in columns], r, strict=True)) for r in data])


def _canon(m: Model) -> tuple:
    rows = sorted((tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in m.rows), key=repr)
    return sorted(m.columns), rows


# source -> warehouse routes: both sources and both warehouses in every (kind, policy, mode);
# DAG_FACTORY_TEST_DRIFT_ROUTES=all runs the full product (twice the time)
ROUTES = [("postgres", "duckdb"), ("mariadb", "postgres")]
if os.environ.get("DAG_FACTORY_TEST_DRIFT_ROUTES") == "all":
    ROUTES += [("mariadb", "duckdb"), ("postgres", "postgres")]


@pytest.fixture
def source(route: tuple[str, str], request, pg_server) -> Iterator[Source]:
    if route[0] == "postgres":
        with pg_server.fresh_database() as name:
            conn = replace(pg_server.conninfo(name), conn_id="src")
            yield Source("postgres", conn, lambda: pg_server.connect(name))
    else:
        maria = request.getfixturevalue("maria")
        with maria.fresh_database() as name:
            yield Source("mysql", maria.conninfo(name), lambda: maria.connect(name))


@pytest.fixture
def warehouse(route: tuple[str, str], tmp_path, pg_server) -> Iterator[Warehouse]:
    if route[1] == "duckdb":
        yield Warehouse("duckdb", ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb")))
    else:
        with pg_server.fresh_database() as name:
            yield Warehouse("postgres", replace(pg_server.conninfo(name), conn_id="wh"))


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]}-to-{r[1]}")
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("mode", list(MODES))
def test_every_change_under_the_policy(mode: str, policy: str, source: Source, warehouse: Warehouse, tmp_path: Path):
    lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    for kind in CHANGED:
        table = f"t_{kind}"
        p = Pipeline(
            name=f"drift_{kind}",
            source=SqlSource(conn_id="src", table=table),
            load=replace(MODES[mode], on_schema_change=policy),  # type: ignore[arg-type]
            target=Target(conn_id="wh", table=f"analytics.{table}"),
            lake=Lake("lake", f"drift/{kind}"),
        )
        model = Model([], [])
        partitions: dict[int, tuple[list, list[dict]]] = {}  # day -> the staged columns and rows of its partition
        for day, iv in enumerate(IVS, start=1):
            columns, rows = source_state(day, kind)
            source.put(table, columns, rows)
            extract(p, iv, source.conn, lake)
            staged = extracted(mode, rows, iv)
            partitions[day] = (columns, staged)
            model = _step(p, iv, lake, warehouse, model, columns, staged, mode, policy, f"{kind} day {day}")
        if policy not in ("append_new_columns", "sync_all_columns"):
            continue  # the reload below is about partitions, not policies: two policies show it
        # day 1 again from its own (older-shaped) lake partition
        columns, staged = partitions[1]
        _step(p, IVS[0], lake, warehouse, model, columns, staged, mode, policy, f"{kind} day 1 reloaded")


def _step(p, iv, lake, warehouse, model, columns, staged, mode, policy, what):
    try:
        expected = apply(model, columns, staged, mode, policy, iv)
    except Refused:
        with pytest.raises(EngineError, match="cannot be published|nothing was loaded|Nothing was published"):
            load(p, iv, lake, warehouse.conn)
        expected = model  # nothing published
    else:
        load(p, iv, lake, warehouse.conn)
    got = warehouse.read(p.target.table.split(".")[1])
    assert _canon(got) == _canon(expected), what
    return expected


@pytest.mark.postgres
@pytest.mark.parametrize("policy", ["append_new_columns", "ignore"])
def test_a_hand_made_narrower_target_is_loaded_while_the_values_fit(policy, pg_conn, tmp_path, caplog):
    """varchar(100) made by hand, text staged: loaded as long as the values fit; a longer value
    widens it to text (append_new_columns) or fails naming the column (ignore)."""
    src = Source("postgres", replace(pg_conn, conn_id="src"), lambda: psycopg.connect(**_kw(pg_conn)))
    wh = Warehouse("postgres", replace(pg_conn, conn_id="wh"))
    lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    with psycopg.connect(**_kw(pg_conn), autocommit=True) as db:
        db.execute(
            "CREATE SCHEMA analytics; CREATE TABLE analytics.t_hand "
            "(id bigint, name varchar(100), amount numeric(12,2), updated_at timestamp)"
        )
    p = Pipeline(
        name="hand",
        source=SqlSource(conn_id="src", table="t_hand"),
        load=Load("incremental", cursor="updated_at", on_schema_change=policy),  # type: ignore[arg-type]
        target=Target(conn_id="wh", table="analytics.t_hand"),
        lake=Lake("lake", "hand"),
    )
    row = {"id": 1, "name": "x" * 100, "amount": Decimal("1.25"), "updated_at": _ts(1, 1)}
    src.put("t_hand", BASE, [row])
    extract(p, IVS[0], src.conn, lake)
    with caplog.at_level("INFO", logger="dag_factory.engine.warehouses.sql"):
        res = load(p, IVS[0], lake, wh.conn)
    fit = "loaded name text into the target's character varying(100) (the values fit)"
    assert fit in res.changes and fit in caplog.text
    assert "kept id bigint (holds the source's integer)" in res.changes
    assert wh.read("t_hand").columns == [
        ("id", ("int",)),
        ("name", ("character varying(100)",)),
        ("amount", ("dec", 12, 2)),
        ("updated_at", ("ts",)),
    ]

    long = {**row, "id": 2, "name": "y" * 101, "updated_at": _ts(2, 1)}
    src.put("t_hand", BASE, [row, long])
    extract(p, IVS[1], src.conn, lake)
    if policy == "ignore":
        with pytest.raises(EngineError, match=r"column name: target character varying\(100\), staged text \(values do not fit\)"):
            load(p, IVS[1], lake, wh.conn)
        assert len(wh.read("t_hand").rows) == 1
    else:
        res = load(p, IVS[1], lake, wh.conn)
        assert "widened name character varying(100) -> text" in res.changes
        got = wh.read("t_hand")
        assert dict(got.columns)["name"] == ("str",) and sorted(r["name"] for r in got.rows) == ["x" * 100, "y" * 101]


def _kw(c: ConnInfo) -> dict:
    return {"host": c.host, "port": c.port, "user": c.login, "password": c.password, "dbname": c.database}
