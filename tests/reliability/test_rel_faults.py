"""Fault injection: SIGKILL the load worker at random points; nothing is lost or doubled,
and a reader polling the target never sees a partial or empty table.

For each load mode (incremental, incremental + primary_key, snapshot, full_refresh) and each
warehouse (PostgreSQL, DuckDB), TRIALS trials. A trial changes the SQLite source (every
row gets a new `version`, the interval's row count changes, some rows move into the
interval), starts a worker process (rel_worker.py: runner.extract, wap.stage, wap.publish)
and SIGKILLs it: after a random delay, after a random source batch, just before a random SQL
statement of stage or publish (inside publish's transaction), or between steps. Then the
interval is re-run to completion and the target must hold exactly what the mode's definition
gives (computed here, in Python, from the source and the target's previous content).
Meanwhile a reader thread polls the target's fingerprint (row count, sum of versions, sum of
ids); every value it sees must be the previous state's or the new one's.
PostgreSQL's reader queries freely (MVCC). DuckDB allows one process per file, so its reader
takes the writers' file lock (as a second loader would), and so checks the states a killed
worker leaves behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest
import rel_worker

WORKER = Path(rel_worker.__file__)
MODES = ["incremental", "incremental_pk", "snapshot", "full_refresh"]
TRIALS = int(os.environ.get("DAGF_FAULT_TRIALS", "20"))
ROWS = 45_000  # over three days; the interval (2024-03-02) holds a third
DAY0 = datetime(2024, 3, 1)
START, END = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC)
DS = date(2024, 3, 2)
FIGURES: list[dict] = []

pytestmark = pytest.mark.slow


# -- the source ---------------------------------------------------------------------------
def seed(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TIMESTAMP, amount INTEGER, version INTEGER)")
        step = 3 * 86400 / ROWS
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, 0)",
            ((i, (DAY0 + timedelta(seconds=int(i * step))).isoformat(sep=" "), i % 1000) for i in range(ROWS)),
        )


def mutate(path: Path, trial: int, rnd: random.Random) -> None:
    """A new source state: every row's version changes, the interval gains or loses rows,
    and some first-day rows are updated into the interval (a merge must move them)."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE orders SET version = ?", [trial])
        db.execute("DELETE FROM orders WHERE id >= 1000000")
        extra = (trial % 4) * 150 + 1
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            ((1_000_000 + i, f"2024-03-02 {i % 24:02d}:{i % 60:02d}:00", i, trial) for i in range(extra)),
        )
        first = rnd.randrange(0, ROWS // 3 - 60)
        db.execute(
            "UPDATE orders SET updated_at = '2024-03-02 12:00:00' WHERE id >= ? AND id < ? AND updated_at < '2024-03-02'",
            [first, first + 50],
        )


def source_rows(path: Path, interval_only: bool) -> list[tuple]:
    with sqlite3.connect(path) as db:
        sql = "SELECT id, updated_at, amount, version FROM orders"
        if interval_only:
            sql += " WHERE updated_at >= '2024-03-02' AND updated_at < '2024-03-03'"
        return [(i, datetime.fromisoformat(u), a, v) for i, u, a, v in db.execute(sql)]


def expected_after(mode: str, before: list[tuple], src: Path) -> list[tuple]:
    """The mode's definition (docs/load-types.md), computed independently of the engine."""
    if mode == "full_refresh":
        return source_rows(src, interval_only=False)
    if mode == "snapshot":
        return [r for r in before if r[4] != DS] + [(*r, DS) for r in source_rows(src, interval_only=False)]
    loaded = source_rows(src, interval_only=True)
    in_interval = lambda r: START.replace(tzinfo=None) <= r[1] < END.replace(tzinfo=None)  # noqa: E731
    keys = {r[0] for r in loaded} if mode == "incremental_pk" else set()
    return [r for r in before if not in_interval(r) and r[0] not in keys] + loaded


def fingerprint(rows: list[tuple]) -> tuple[int, int, int]:
    return (len(rows), sum(r[3] for r in rows), sum(r[0] for r in rows))


# -- the warehouses --------------------------------------------------------------------------
class Pg:
    kind = "postgres"

    def __init__(self, conn) -> None:
        self.c = conn

    def spec(self) -> dict:
        c = self.c
        return {
            "kind": "postgres",
            "host": c.host,
            "port": c.port,
            "user": c.login,
            "password": c.password,
            "database": c.database,
        }

    def connect(self) -> psycopg.Connection:
        c = self.c
        return psycopg.connect(
            host=c.host,
            port=c.port,
            user=c.login,
            password=c.password,
            dbname=c.database,
            autocommit=True,
            options="-c TimeZone=UTC",
        )

    def rows(self, table: str) -> list[tuple]:
        with self.connect() as db:
            return self._rows(db, table)

    @staticmethod
    def _rows(db, table: str) -> list[tuple]:
        if db.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is None:
            return []
        return [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY 1")]

    def poll(self, table: str, stop: threading.Event, seen: list, errors: list) -> None:
        try:
            with self.connect() as db:
                while not stop.is_set():
                    exists = db.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is not None
                    row = (
                        db.execute(f"SELECT count(*), coalesce(sum(version), 0), coalesce(sum(id), 0) FROM {table}").fetchone()
                        if exists
                        else (0, 0, 0)
                    )
                    seen.append(tuple(int(x) for x in row))
                    time.sleep(0.002)
        except BaseException as e:  # a failed query is a visible gap too
            errors.append(e)

    def leftovers(self, schema: str) -> list[str]:
        with self.connect() as db:
            return [
                r[0]
                for r in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE '\\_dagf%%'", [schema]
                )
            ]


class Duck:
    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path

    def spec(self) -> dict:
        return {"kind": "duckdb", "path": str(self.path)}

    def _locked(self, fn):
        """Read under the writers' flock (DuckDB lets one process at a time open the file)."""
        with open(self.path.with_name(self.path.name + ".writer.lock"), "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.path.exists():
                return fn(None)
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                con.execute("SET TimeZone = 'UTC'")
                return fn(con)
            finally:
                con.close()

    def rows(self, table: str) -> list[tuple]:
        def read(con):
            if con is None or not self._exists(con, table):
                return []
            return [tuple(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()]

        return self._locked(read)

    @staticmethod
    def _exists(con, table: str) -> bool:
        schema, name = table.split(".")
        return bool(
            con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]
            ).fetchone()[0]
        )

    def poll(self, table: str, stop: threading.Event, seen: list, errors: list) -> None:
        def read(con):
            if con is None or not self._exists(con, table):
                return (0, 0, 0)
            row = con.execute(f"SELECT count(*), coalesce(sum(version), 0), coalesce(sum(id), 0) FROM {table}").fetchone()
            return tuple(int(x) for x in row)

        try:
            while not stop.is_set():
                seen.append(self._locked(read))
                time.sleep(0.01)
        except BaseException as e:
            errors.append(e)

    def leftovers(self, schema: str) -> list[str]:
        def read(con):
            return [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND table_name LIKE '\\_dagf%' ESCAPE '\\'",
                    [schema],
                ).fetchall()
            ]

        return self._locked(read)


def _normalize(rows: list[tuple]) -> Counter:
    out = Counter()
    for r in rows:
        r = list(r)
        if isinstance(r[1], datetime) and r[1].tzinfo is not None:
            r[1] = r[1].astimezone(UTC).replace(tzinfo=None)
        out[tuple(r)] += 1
    return out


# -- one trial -----------------------------------------------------------------------------------
def _spec(tmp: Path, wh, mode: str, kill=None) -> dict:
    return {
        "name": f"rel_{mode}",
        "mode": mode,
        "table": f"mart.rel_{mode}",
        "sqlite": str(tmp / "src.db"),
        "lake": str(tmp / "lake"),
        "warehouse": wh.spec(),
        "start": START.isoformat(),
        "end": END.isoformat(),
        "kill": kill,
        "batch_size": 2000,
    }


def _worker(spec: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_plan(rnd: random.Random, trial: int, calib: dict) -> tuple[str, object]:
    choice = trial % 4
    if choice == 0:
        return "timed", rnd.uniform(0.05, calib["seconds"] * 1.1)
    if choice == 1:
        return "injected", ["extract_batch", rnd.randint(1, calib["batches"])]
    if choice == 2:
        step = rnd.choice(["stage", "publish"])
        return "injected", ["execute", step, rnd.randint(1, calib[step])]
    return "injected", ["between", rnd.choice(["stage", "publish"])]


def _calibrate(tmp: Path, wh, mode: str) -> dict:
    """One uninterrupted run in a worker: its duration and how many batches/statements it has."""
    counts = {"stage": 0, "publish": 0}
    t0 = time.perf_counter()
    proc = _worker(_spec(tmp, wh, mode))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    seconds = time.perf_counter() - t0
    # statements per step, counted in-process with the same hooks the worker uses
    from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse
    from dag_factory.engine.warehouses.postgres import PostgresWarehouse

    cls = DuckDBWarehouse if wh.kind == "duckdb" else PostgresWarehouse
    real = cls.execute
    current = {"step": ""}

    def counting(self, sql, params=()):
        if current["step"] in counts:
            counts[current["step"]] += 1
        return real(self, sql, params)

    cls.execute = counting
    try:
        rel_worker.run(_spec(tmp, wh, mode), lambda step: current.update(step=step))
    finally:
        cls.execute = real
    batches = -(-len(source_rows(tmp / "src.db", mode.startswith("incremental"))) // 2000)
    return {"seconds": seconds, "batches": batches, **counts}


def run_mode(tmp: Path, wh, mode: str, seed_value: int) -> dict:
    rnd = random.Random(seed_value)
    table = f"mart.rel_{mode}"
    src = tmp / "src.db"
    seed(src)
    if mode == "snapshot":  # history: an earlier day's snapshot must survive every trial
        spec = _spec(tmp, wh, mode) | {"start": "2024-03-01T00:00:00+00:00", "end": "2024-03-02T00:00:00+00:00"}
        rel_worker.run(spec)
    if mode.startswith("incremental"):  # the neighbouring days are loaded and must stay
        for day in ("2024-03-01", "2024-03-03"):
            start = datetime.fromisoformat(day).replace(tzinfo=UTC)
            rel_worker.run(_spec(tmp, wh, mode) | {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()})
    calib = _calibrate(tmp, wh, mode)
    figures = {
        "warehouse": wh.kind,
        "mode": mode,
        "trials": 0,
        "killed": 0,
        "finished_before_kill": 0,
        "killed_in": Counter(),
        "plans": Counter(),
        "reader_polls": 0,
        "reader_states": Counter(),
        "ok": 0,
        "seconds": 0.0,
    }
    started = time.perf_counter()
    for trial in range(1, TRIALS + 1):
        before = wh.rows(table)
        mutate(src, trial, rnd)
        expected = expected_after(mode, [tuple(r) for r in _normalize(before).elements()], src)
        old_fp, new_fp = fingerprint(before), fingerprint(expected)
        assert old_fp != new_fp  # the reader can tell the states apart
        how, what = _kill_plan(rnd, trial, calib)
        figures["plans"][how if how == "timed" else " ".join(str(x) for x in what[:2] if not isinstance(x, int))] += 1
        stop, seen, errors = threading.Event(), [], []
        reader = threading.Thread(target=wh.poll, args=(table, stop, seen, errors), daemon=True)
        reader.start()
        proc = _worker(_spec(tmp, wh, mode, kill=what if how == "injected" else None))
        if how == "timed":
            try:
                proc.wait(timeout=what)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        steps = [line.split()[1] for line in out.splitlines() if line.startswith("STEP")]
        if proc.returncode == 0:
            figures["finished_before_kill"] += 1
        else:
            assert proc.returncode == -signal.SIGKILL, f"worker failed on its own ({proc.returncode}): {err[-2000:]}"
            figures["killed"] += 1
            figures["killed_in"][steps[-1] if steps else "start-up"] += 1
        rel_worker.run(_spec(tmp, wh, mode))  # the retry, to completion
        time.sleep(0.02)
        stop.set()
        reader.join(timeout=30)
        assert not errors, errors
        bad = [s for s in seen if s not in (old_fp, new_fp)]
        assert not bad, f"{wh.kind}/{mode} trial {trial} ({how} {what}): reader saw {bad[:3]}; old {old_fp}, new {new_fp}"
        figures["reader_polls"] += len(seen)
        figures["reader_states"].update("old" if s == old_fp else "new" for s in seen)
        after = wh.rows(table)
        assert _normalize(after) == _normalize(expected), (
            f"{wh.kind}/{mode} trial {trial} ({how} {what}): warehouse differs from the definition"
        )
        figures["trials"] += 1
        figures["ok"] += 1
    assert wh.leftovers("mart") == []  # no staging or swapped-out tables stay behind
    part = tmp / "lake" / "_staging" / f"rel_{mode}"
    assert sorted(p.name for p in part.iterdir()) == [
        p.name for p in part.iterdir() if p.name.startswith("ds=")
    ]  # no temp folders
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _report(f: dict) -> str:
    where = ", ".join(f"{k} {v}" for k, v in sorted(f["killed_in"].items()))
    plans = ", ".join(f"{k} {v}" for k, v in sorted(f["plans"].items()))
    return (
        f"{f['warehouse']:8} {f['mode']:15} trials {f['trials']:3} [{plans}]  killed {f['killed']:3} (during: {where})  "
        f"finished before the kill {f['finished_before_kill']}  reader polls {f['reader_polls']} "
        f"(old {f['reader_states']['old']}, new {f['reader_states']['new']}, other 0)  exact after re-run {f['ok']}/{f['trials']}  "
        f"{f['seconds']}s"
    )


@pytest.mark.postgres
@pytest.mark.parametrize("mode", MODES)
def test_sigkill_postgres(mode, pg_conn, tmp_path, capsys):
    figures = run_mode(tmp_path, Pg(pg_conn), mode, seed_value=zlib.crc32(f"pg/{mode}".encode()))
    FIGURES.append(figures)
    with capsys.disabled():
        print("\n" + _report(figures))
    assert figures["trials"] >= TRIALS and figures["killed"] >= TRIALS // 2


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_duckdb(mode, tmp_path, capsys):
    figures = run_mode(tmp_path, Duck(tmp_path / "wh.duckdb"), mode, seed_value=zlib.crc32(f"duckdb/{mode}".encode()))
    FIGURES.append(figures)
    with capsys.disabled():
        print("\n" + _report(figures))
    assert figures["trials"] >= TRIALS and figures["killed"] >= TRIALS // 2


# -- mode: history: a publish killed at any statement leaves the previous history ---------------
def _scd2(extracts: list[tuple[datetime, list[tuple]]]) -> Counter:
    """The history by definition (docs/load-types.md), over (interval end, rows) in order."""
    out: list[list] = []
    current: dict[int, int] = {}
    previous: dict[int, tuple] = {}
    for end, rows in sorted(extracts):
        state = {r[0]: r for r in rows}
        for key, row in state.items():
            if key in current and previous[key] == row:
                continue
            if key in current:
                out[current[key]][-1] = end
            out.append([*row, end, None])
            current[key] = len(out) - 1
        for key in [k for k in current if k not in state]:
            out[current.pop(key)][-1] = end
        previous = state
    return Counter(tuple(r) + (r[-1] is None,) for r in out)


def _history_rows(wh, table: str) -> Counter:
    def utc(v):
        return v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v

    out = Counter()
    for r in wh.rows(table):
        r = [utc(v) for v in r]
        r[4] = r[4].replace(tzinfo=UTC)
        r[5] = r[5] and r[5].replace(tzinfo=UTC)
        out[tuple(r)] += 1
    return out


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_mid_history_publish_keeps_previous_history(kind, request, tmp_path, capsys):
    """Three days of history, then day 4's publish SIGKILLed before each of its statements in
    turn (inside the one transaction that replaces the kept extract and rebuilds the table):
    every kill leaves exactly the previous history; the run that gets through gives the new one."""
    wh = Duck(tmp_path / "wh.duckdb") if kind == "duckdb" else Pg(request.getfixturevalue("pg_conn"))
    table, src, rnd = "mart.rel_history", tmp_path / "src.db", random.Random(4)
    seed(src)

    def spec(n: int, kill=None) -> dict:
        start = datetime(2024, 3, n, tzinfo=UTC)
        return _spec(tmp_path, wh, "history", kill) | {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}

    extracts = []
    for n in (1, 2, 3):
        mutate(src, n, rnd)
        rel_worker.run(spec(n))
        extracts.append((datetime(2024, 3, n + 1, tzinfo=UTC), source_rows(src, interval_only=False)))
    before = _history_rows(wh, table)
    assert before == _scd2(extracts)
    mutate(src, 4, rnd)
    kills = 0
    for k in range(1, 50):
        proc = _worker(spec(4, kill=["execute", "publish", k]))
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:  # k is past the last statement: this run published
            break
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        assert "STEP publish" in out
        kills += 1
        assert _history_rows(wh, table) == before, f"killed before publish statement {k}: the history changed"
    extracts.append((datetime(2024, 3, 5, tzinfo=UTC), source_rows(src, interval_only=False)))
    after = _history_rows(wh, table)
    assert after == _scd2(extracts) and after != before
    assert wh.leftovers("mart") == ["_dagf_hist_rel_history"]  # the kept extracts; no staging tables
    with capsys.disabled():
        print(f"\n{kind:8} history: {kills} kills (one before each publish statement), previous history intact after each")
    assert kills >= 5


# -- a publish that alters the table: killed at any statement, the old table stays -------------
def _columns(wh, table: str) -> list[str]:
    schema, name = table.split(".")
    if wh.kind == "duckdb":
        return wh._locked(
            lambda con: [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                    [schema, name],
                ).fetchall()
            ]
        )
    with wh.connect() as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                [schema, name],
            )
        ]


@pytest.mark.parametrize("mode", ["incremental_pk", "snapshot"])
@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_mid_altering_publish_keeps_the_old_table(kind, mode, request, tmp_path, capsys):
    """The source gains a column and loses one (on_schema_change: sync_all_columns): publish
    adds and drops columns in its transaction. SIGKILLed before each of its statements in turn,
    the target keeps its old columns and rows; the run that gets through has the new shape."""
    wh = Duck(tmp_path / "wh.duckdb") if kind == "duckdb" else Pg(request.getfixturevalue("pg_conn"))
    table, src = f"mart.rel_{mode}", tmp_path / "src.db"
    seed(src)
    spec = _spec(tmp_path, wh, mode) | {"on_schema_change": "sync_all_columns"}
    rel_worker.run(spec)
    before_cols, before = _columns(wh, table), _normalize(wh.rows(table))
    assert "amount" in before_cols and "coupon" not in before_cols
    with sqlite3.connect(src) as db:
        db.execute("ALTER TABLE orders ADD COLUMN coupon TEXT")
        db.execute("UPDATE orders SET coupon = 'c' || id, version = version + 1")
        db.execute("ALTER TABLE orders DROP COLUMN amount")
    kills = 0
    for k in range(1, 50):
        proc = _worker(spec | {"kill": ["execute", "publish", k]})
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:  # k is past the last statement: this run published
            break
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        assert "STEP publish" in out
        kills += 1
        assert _columns(wh, table) == before_cols, f"killed before publish statement {k}: the columns changed"
        assert _normalize(wh.rows(table)) == before, f"killed before publish statement {k}: the rows changed"
    after_cols = _columns(wh, table)
    assert "coupon" in after_cols and "amount" not in after_cols
    rows = wh.rows(table)
    coupon = after_cols.index("coupon")
    assert rows and all(r[coupon] == f"c{r[0]}" for r in rows if r[after_cols.index("version")] == 1)
    with capsys.disabled():
        print(f"\n{kind:8} {mode} altering publish: {kills} kills (one before each statement), old table intact after each")
    assert kills >= 4  # at least: the ADD, the DROP, the DELETE and the INSERT
