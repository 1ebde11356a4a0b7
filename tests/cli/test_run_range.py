"""`dag-factory run NAME --from D1 --to D2 [--one-pass]` as a user types it (subprocesses),
on a real SQLite source into real DuckDB files: 60 daily runs and one pass give the same table."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
D0 = datetime(2024, 1, 1)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    return subprocess.run(
        [sys.executable, "-m", "dag_factory.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=600,
    )


def _source(path: Path, rows: int = 6000) -> None:
    """Rows over Dec 2023 .. Mar 2024: before, inside and after the 60-day range."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, amount NUMERIC(10,2), updated_at TIMESTAMP)")
        step = 90 * 86400 / rows
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            [
                (
                    i,
                    f"k{i % 7}",
                    f"{i % 1000}.{i % 100:02d}",
                    (D0 - timedelta(days=15) + timedelta(seconds=i * step)).isoformat(sep=" "),
                )
                for i in range(rows)
            ],
        )


def _change(path: Path) -> None:
    """Updates that move rows' cursors (into and out of the range), deletes and inserts."""
    rnd = random.Random(5)
    with sqlite3.connect(path) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM events")]
        for i in rnd.sample(ids, 400):
            when = D0 + timedelta(days=rnd.randrange(-10, 70), seconds=rnd.randrange(86400))
            db.execute("UPDATE events SET amount = amount + 1, updated_at = ? WHERE id = ?", [when.isoformat(sep=" "), i])
        db.execute("DELETE FROM events WHERE id % 97 = 0")
        db.executemany(
            "INSERT INTO events VALUES (?, 'new', 1.00, ?)",
            [(100_000 + i, (D0 + timedelta(hours=i * 7)).isoformat(sep=" ")) for i in range(150)],
        )


def _pipelines(tmp: Path, load: str) -> Path:
    folder = tmp / "pipelines"
    folder.mkdir(exist_ok=True)
    (folder / "events.yaml").write_text(
        "version: 1\nname: events\nschedule: '@daily'\nstart_date: 2024-01-01\n"
        "source: {type: sql, conn_id: src, table: events}\n"
        f"load: {load}\n"
        "target: {conn_id: wh, table: analytics.events}\n"
        "checks:\n  - not_null: [kind]\n"
    )
    return folder


def _env(tmp: Path, wh: str) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_SRC": json.dumps({"conn_type": "sqlite", "host": str(tmp / "src.db")}),
        "AIRFLOW_CONN_WH": json.dumps({"conn_type": "duckdb", "host": str(tmp / f"{wh}.duckdb")}),
        "DAG_FACTORY_STAGING": str(tmp / f"staging_{wh}"),
    }


def _checksum(path: Path) -> tuple[int, str]:
    with duckdb.connect(str(path), read_only=True) as db:
        rows = sorted(db.execute("SELECT id, kind, amount, updated_at FROM analytics.events").fetchall())
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    "load",
    [
        "{mode: incremental, cursor: updated_at}",
        "{mode: incremental, cursor: updated_at, primary_key: [id], lookback: 1d}",
    ],
    ids=["append", "merge_lookback"],
)
def test_one_pass_equals_sixty_daily_runs(load, tmp_path):
    _source(tmp_path / "src.db")
    pipes = str(_pipelines(tmp_path, load))
    range_args = ("run", "events", "--from", "2024-01-01", "--to", "2024-02-29", "--pipelines", pipes)
    for step in ("initial", "after source changes"):
        daily = _cli(*range_args, env=_env(tmp_path, "daily"))
        assert daily.returncode == 0, daily.stderr
        assert "load of 60 intervals, 2024-01-01 to 2024-02-29, in order" in daily.stdout
        assert "[60/60] ds=2024-02-29" in daily.stdout
        one = _cli(*range_args, "--one-pass", env=_env(tmp_path, "one_pass"))
        assert one.returncode == 0, one.stderr
        assert "[1/1] ds=2024-01-01" in one.stdout and "60 intervals in one pass" in one.stdout
        got, want = _checksum(tmp_path / "one_pass.duckdb"), _checksum(tmp_path / "daily.duckdb")
        assert got == want, step
        assert want[0] > 3000, step  # most of the source lies in the range
        print(f"{step}: {want[0]} rows, checksum {want[1]} (60 daily runs) == {got[1]} (one pass)")
        if step == "initial":
            _change(tmp_path / "src.db")
    # the one-pass extract has its own folder; the daily partitions are untouched by it
    staging = tmp_path / "staging_one_pass" / "_staging" / "events"
    assert [p.name for p in (staging / "_one_pass").iterdir()] == ["ds=2024-01-01"]


def test_range_stops_at_the_first_failure_and_names_the_resume_command(tmp_path):
    _source(tmp_path / "src.db")
    with sqlite3.connect(tmp_path / "src.db") as db:  # day 5 fails its not_null check
        db.execute("UPDATE events SET kind = NULL WHERE updated_at >= '2024-01-05' AND updated_at < '2024-01-05 01:00'")
    pipes = str(_pipelines(tmp_path, "{mode: incremental, cursor: updated_at, primary_key: [id]}"))
    out = _cli("run", "events", "--from", "2024-01-03", "--to", "2024-01-08", "--pipelines", pipes, env=_env(tmp_path, "wh"))
    assert out.returncode == 1
    assert "[2/6] ds=2024-01-04" in out.stdout and "ds=2024-01-05" not in out.stdout
    assert "interval [2024-01-05T00:00:00+00:00, 2024-01-06T00:00:00+00:00) (ds=2024-01-05) failed" in out.stderr
    assert "the 2 intervals before it are loaded" in out.stderr
    assert "dag-factory run events --from 2024-01-05 --to 2024-01-08" in out.stderr
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        (latest,) = db.execute("SELECT max(updated_at) FROM analytics.events").fetchone()
    assert latest < datetime(2024, 1, 5)


def test_range_arguments_are_checked(tmp_path):
    pipes = str(_pipelines(tmp_path, "{mode: snapshot}"))
    env = _env(tmp_path, "wh")
    out = _cli("run", "events", "--from", "2024-01-03", "--pipelines", pipes, env=env)
    assert out.returncode == 2 and "--from D1 --to D2" in out.stderr
    out = _cli("run", "events", "--from", "2024-01-03", "--to", "2024-01-01", "--pipelines", pipes, env=env)
    assert out.returncode == 2 and "before --from" in out.stderr
    _source(tmp_path / "src.db")
    out = _cli("run", "events", "--from", "2024-01-01", "--to", "2024-01-02", "--one-pass", "--pipelines", pipes, env=env)
    assert out.returncode == 1 and "--one-pass needs mode: incremental" in out.stderr
