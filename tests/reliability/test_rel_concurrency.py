"""Concurrency and backfills.

- Two runs of one pipeline for different intervals at the same time (two processes) leave
  the same warehouse as running them one after the other: PostgreSQL for every mode, from
  an empty target (both runs create it) and from a loaded one; DuckDB writers queue on the
  file lock (engine/warehouses/duckdb.py), checked the same way.
- Backfilling 30 days twice gives an identical warehouse (SHA-256 of the ordered contents).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rel_worker
from test_rel_faults import Duck, Pg, _normalize

WORKER = Path(rel_worker.__file__)
MODES = ["incremental", "incremental_pk", "snapshot", "full_refresh"]
DAY0 = datetime(2024, 3, 1, tzinfo=UTC)

pytestmark = pytest.mark.slow


def seed(path: Path, days: int, per_day: int, version: int = 0) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE IF EXISTS orders")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TIMESTAMP, amount INTEGER, version INTEGER)")
        step = 86400 / per_day
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            (
                (i, (DAY0 + timedelta(seconds=int(i * step))).replace(tzinfo=None).isoformat(sep=" "), i % 997, version)
                for i in range(days * per_day)
            ),
        )


def move_rows(path: Path, version: int) -> None:
    """A new source state: new versions, and rows of day 1 updated into days 2 and 3."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE orders SET version = ?", [version])
        db.execute(
            "UPDATE orders SET updated_at = ? WHERE id % 50 = ? AND updated_at < '2024-03-02'",
            [f"2024-03-0{2 + version % 2} 06:00:00", version],
        )


def spec(tmp: Path, wh, mode: str, name: str, day: int) -> dict:
    start = DAY0 + timedelta(days=day)
    return {
        "name": name,
        "mode": mode,
        "table": f"mart.{name}",
        "sqlite": str(tmp / "src.db"),
        "lake": str(tmp / "lake"),
        "warehouse": wh.spec(),
        "start": start.isoformat(),
        "end": (start + timedelta(days=1)).isoformat(),
        "batch_size": 1000,
    }


def parallel(specs: list[dict]) -> float:
    """Start one worker per spec at once; returns how long they overlapped (seconds)."""
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), json.dumps(s)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for s in specs
    ]
    started = time.perf_counter()
    ends = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        ends.append(time.perf_counter() - started)
        assert p.returncode == 0, err[-3000:]
        assert "DONE" in out
    return min(ends)


def checksum(rows: list[tuple]) -> str:
    h = hashlib.sha256()
    for row in sorted(_normalize(rows).elements(), key=repr):
        h.update(repr(row).encode())
    return h.hexdigest()


def _same_as_sequential(tmp: Path, wh, mode: str) -> list[str]:
    seed(tmp / "src.db", days=4, per_day=5000)
    lines = []
    for round_ in range(4):
        if round_:
            move_rows(tmp / "src.db", round_)
        overlap = parallel([spec(tmp, wh, mode, f"par_{mode}", day) for day in (1, 2)])
        for day in (1, 2):
            rel_worker.run(spec(tmp, wh, mode, f"seq_{mode}", day))
        par, seq = wh.rows(f"mart.par_{mode}"), wh.rows(f"mart.seq_{mode}")
        assert _normalize(par) == _normalize(seq), f"{wh.kind}/{mode} round {round_}: concurrent runs differ from sequential ones"
        assert par, "nothing loaded"
        lines.append(
            f"{wh.kind} {mode} round {round_}: {len(par)} rows, concurrent == sequential (both started at once, first done after {overlap:.1f}s)"
        )
    return lines


@pytest.mark.postgres
@pytest.mark.parametrize("mode", MODES)
def test_two_intervals_at_once_equal_one_after_the_other_postgres(mode, pg_conn, tmp_path, capsys):
    lines = _same_as_sequential(tmp_path, Pg(pg_conn), mode)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


@pytest.mark.parametrize("mode", ["incremental_pk", "snapshot"])
def test_two_intervals_at_once_equal_one_after_the_other_duckdb(mode, tmp_path, capsys):
    lines = _same_as_sequential(tmp_path, Duck(tmp_path / "wh.duckdb"), mode)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def _backfill_twice(tmp: Path, wh, mode: str) -> str:
    seed(tmp / "src.db", days=30, per_day=100)
    sums = []
    for _ in range(2):
        for day in range(30):
            rel_worker.run(spec(tmp, wh, mode, f"bf_{mode}", day))
        rows = wh.rows(f"mart.bf_{mode}")
        sums.append((len(rows), checksum(rows)))
    assert sums[0] == sums[1], f"{wh.kind}/{mode}: second backfill changed the warehouse: {sums}"
    expected = {"incremental": 3000, "incremental_pk": 3000, "snapshot": 30 * 3000, "full_refresh": 3000}[mode]
    assert sums[0][0] == expected
    return f"{wh.kind} {mode}: 30-day backfill twice: {sums[0][0]} rows, sha256 {sums[0][1][:16]} both times"


@pytest.mark.postgres
@pytest.mark.parametrize("mode", MODES)
def test_backfill_30_days_twice_is_identical_postgres(mode, pg_conn, tmp_path, capsys):
    line = _backfill_twice(tmp_path, Pg(pg_conn), mode)
    with capsys.disabled():
        print("\n" + line)


@pytest.mark.parametrize("mode", MODES)
def test_backfill_30_days_twice_is_identical_duckdb(mode, tmp_path, capsys):
    line = _backfill_twice(tmp_path, Duck(tmp_path / "wh.duckdb"), mode)
    with capsys.disabled():
        print("\n" + line)
