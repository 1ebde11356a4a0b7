"""Issue 12.4: loading 60 days of history, `run --from --to` day by day vs `--one-pass`.

A PostgreSQL source table (a throwaway server, tests/support/postgres.py) with N rows spread
over 60 days, an incremental pipeline with a key into a DuckDB file. Each contender is the CLI as
a user types it, a fresh process, timed whole; contenders interleave per repeat, and each repeat
starts from an empty warehouse. The two warehouses are compared by checksum at the end.
`--index` adds an index on the cursor column (each daily query then reads one day, not the table).

    .venv/bin/python benchmarks/bench_one_pass.py [--rows 30000,300000] [--reps 2] [--index] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import OURS_PY, REPO, measure, median, print_machine, spread, table, tmpdir  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

PIPELINE = """version: 1
name: bench_events
schedule: "@daily"
start_date: 2024-03-01
source: {type: sql, conn_id: bench_src, table: public.events}
load: {mode: incremental, cursor: updated_at, primary_key: [id]}
target: {conn_id: bench_wh, table: analytics.events}
"""


def seed(server, database: str, rows: int, index: bool) -> None:
    with server.connect(database, autocommit=True) as db:
        db.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, customer_id int, status text, amount numeric(12,2), "
            "note text, updated_at timestamptz)"
        )
        db.execute(
            "INSERT INTO events SELECT g, g %% 5000, (ARRAY['new','paid','shipped','returned'])[1 + g %% 4], "
            "(g %% 100000) / 100.0, md5(g::text), "
            "timestamptz '2024-01-01 00:00+00' + (g::float8 / %s) * interval '60 days' FROM generate_series(0, %s - 1) g",
            [rows, rows],
        )
        if index:
            db.execute("CREATE INDEX ON events (updated_at)")
        db.execute("ANALYZE events")


def checksum(path: Path) -> tuple[int, str]:
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute("SELECT id, customer_id, status, amount, note, updated_at FROM analytics.events ORDER BY id").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _in_command(stdout: str) -> float:
    """The command's own "done: ... in N s" (without interpreter start-up and imports)."""
    line = [ln for ln in stdout.splitlines() if ln.startswith("done:")][-1]
    return float(line.rsplit(" in ", 1)[1].rstrip("s"))


def bench_size(server, work: Path, rows: int, reps: int, index: bool) -> list[list[object]]:
    with server.fresh_database() as database:
        seed(server, database, rows, index)
        src = {"conn_type": "postgres", "host": server.host, "port": server.port, "login": server.user, "schema": database}
        if server.password:
            src["password"] = server.password
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
        base["AIRFLOW_CONN_BENCH_SRC"] = json.dumps(src)
        cmd = [str(OURS_PY), "-m", "dag_factory.cli", "run", "bench_events", "--from", "2024-01-01", "--to", "2024-02-29"]
        cmd += ["--pipelines", str(work / "pipelines")]
        names = {"daily": "60 daily runs (--from/--to)", "one": "one pass (--one-pass)"}
        wall: dict[str, list[float]] = {k: [] for k in names}
        inner: dict[str, list[float]] = {k: [] for k in names}
        sums = {}
        for rep in range(reps):
            for tag, flags in (("daily", []), ("one", ["--one-pass"])):
                wh = work / f"{tag}.duckdb"
                wh.unlink(missing_ok=True)
                shutil.rmtree(work / f"staging_{tag}", ignore_errors=True)
                env = base | {
                    "AIRFLOW_CONN_BENCH_WH": json.dumps({"conn_type": "duckdb", "host": str(wh)}),
                    "DAG_FACTORY_STAGING": str(work / f"staging_{tag}"),
                }
                result = measure([*cmd, *flags], env=env, cwd=REPO, timeout=7200)
                wall[tag].append(result["wall_s"])
                inner[tag].append(_in_command(result["stdout"]))
                sums[tag] = checksum(wh)
                print(
                    f"  {rows:,} rows, rep {rep + 1}: {names[tag]}: {result['wall_s']:.1f}s process, {inner[tag][-1]:.1f}s in command"
                )
    if len(set(sums.values())) != 1:
        raise SystemExit(f"{rows:,} rows: the warehouses differ: {sums}")
    out = []
    for tag, name in names.items():
        out.append(
            [
                f"{rows:,}",
                name,
                f"{median(wall[tag]):.1f} ({spread(wall[tag])})",
                f"{median(inner[tag]):.1f} ({spread(inner[tag])})",
                f"{median(wall[tag]) / median(wall['one']):.1f}x",
                f"{median(inner[tag]) / median(inner['one']):.1f}x",
                f"{sums[tag][0]:,} {sums[tag][1]}",
            ]
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="30000,300000", help="source sizes, comma-separated (rows over the 60 days)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--index", action="store_true", help="index the cursor column")
    ap.add_argument("--quick", action="store_true", help="30k rows, 1 repeat")
    args = ap.parse_args()
    sizes, reps = ([30_000], 1) if args.quick else ([int(r) for r in args.rows.split(",")], args.reps)
    print_machine()
    work = tmpdir("bench-one-pass-")
    (work / "pipelines").mkdir()
    (work / "pipelines" / "bench_events.yaml").write_text(PIPELINE)
    rows_out: list[list[object]] = []
    with postgres_server() as server:
        for rows in sizes:
            rows_out += bench_size(server, work, rows, reps, args.index)
    shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"PostgreSQL -> DuckDB, incremental with a key, 60 days; cursor index: {'yes' if args.index else 'no'}; {reps} repeat(s)"
    )
    print("(process: the whole CLI process; in command: its own 'done in', without start-up; both same warehouse by checksum)")
    print(
        table(
            [
                "source rows",
                "contender",
                "process s (min-max)",
                "in command s (min-max)",
                "process ratio",
                "in-command ratio",
                "target rows, checksum",
            ],
            rows_out,
        )
    )


if __name__ == "__main__":
    main()
