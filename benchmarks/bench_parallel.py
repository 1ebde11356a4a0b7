"""Issue 14.3: one big PostgreSQL table extracted with `source.parallel` parts 1, 2 and 4.

    .venv/bin/python benchmarks/bench_parallel.py [--rows 5000000] [--reps 2] [--workers 2] [--quick]

A throwaway PostgreSQL gets an `orders` table of --rows rows (id, customer, amount numeric,
status, note, updated_at); each measurement is a fresh process that extracts one day's
snapshot of it into a local lake: parts 1 is the plain single extract (runner.extract), parts N
is what the DAG does (plan, N part extracts, commit) with the parts spread over --workers
local processes (a ProcessPoolExecutor: two local processes, not Celery workers). Contenders
are interleaved and repeated; the table shows the median seconds, rows/s and the ratio to
parts 1. Stage and publish are the same for both shapes (one partition), so they are not timed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

from _common import OURS_PY, REPO, median, print_machine, spread, table, tmpdir

sys.path.insert(0, str(REPO))

DAY = ("2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00")


def _pipeline(parts: int):
    from dag_factory.config.model import Lake, Load, Parallel, Pipeline, SqlSource, Target

    return Pipeline(
        name="bench_parallel",
        source=SqlSource(conn_id="src", table="orders", parallel=Parallel("id", parts) if parts > 1 else None),
        load=Load("snapshot"),
        target=Target("wh", "orders"),
        lake=Lake("lake", f"orders_{parts}"),
    )


def _interval():
    from dag_factory.config.schedules import Interval

    return Interval(datetime.fromisoformat(DAY[0]), datetime.fromisoformat(DAY[1]))


def _conns(spec: dict):
    from dag_factory.engine.connections import ConnInfo

    return ConnInfo(**spec["src"]), ConnInfo("lake", "fs", extra={"path": spec["lake"]})


def _one_part(spec: dict, part: dict) -> int:
    from dag_factory.engine.parallel import PartRange
    from dag_factory.engine.runner import extract_part

    src, lake = _conns(spec)
    return extract_part(_pipeline(spec["parts"]), _interval(), PartRange.from_json(part), src, lake).rows


def child(spec: dict) -> None:
    """One measurement, in its own process: the extract the way the DAG runs it."""
    from dag_factory.engine.runner import commit_parts, extract, plan_parts

    src, lake = _conns(spec)
    p, interval = _pipeline(spec["parts"]), _interval()
    t0 = time.perf_counter()
    if spec["parts"] == 1:
        rows = extract(p, interval, src, lake).rows
    else:
        plan = [x.to_json() for x in plan_parts(p, interval, src, lake)]
        with ProcessPoolExecutor(max_workers=spec["workers"]) as pool:
            list(pool.map(_one_part, [spec] * len(plan), plan))
        rows = commit_parts(p, interval, lake).rows
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="local processes the parts are spread over")
    ap.add_argument("--parts", default="1,2,4")
    ap.add_argument("--quick", action="store_true", help="200k rows, 1 rep")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.quick:
        args.rows, args.reps = 200_000, 1
    import subprocess

    import psycopg

    from tests.support.postgres import postgres_server

    print_machine()
    parts_list = [int(x) for x in args.parts.split(",")]
    with postgres_server() as pg:
        with pg.fresh_database() as db:
            c = pg.conninfo(db, "src")
            t0 = time.perf_counter()
            with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=db) as conn:
                conn.execute(
                    "CREATE TABLE orders (id bigint PRIMARY KEY, customer int, amount numeric(12,2), status text,"
                    " note text, updated_at timestamptz)"
                )
                conn.execute(
                    "INSERT INTO orders SELECT i, i %% 100000, (i %% 100000) * 0.37, (ARRAY['new','paid','shipped'])[1 + i %% 3],"
                    " 'order ' || i, '2024-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, %s::bigint) AS i",
                    (args.rows,),
                )
                conn.execute("ANALYZE orders")
            print(f"source: {args.rows:,} rows in PostgreSQL ({time.perf_counter() - t0:.0f} s to load)")
            src = {k: getattr(c, k) for k in ("conn_id", "kind", "host", "port", "login", "password", "database")}
            results: dict[int, list[dict]] = {n: [] for n in parts_list}
            lake = tmpdir("dagf-bench-parallel-")
            try:
                for rep in range(args.reps):
                    for n in parts_list:
                        spec = {"parts": n, "workers": args.workers, "lake": str(lake), "src": src}
                        out = subprocess.run(
                            [str(OURS_PY), __file__, "--child", json.dumps(spec)],
                            capture_output=True,
                            text=True,
                            check=False,
                            cwd=REPO,
                        )
                        if out.returncode != 0:
                            raise SystemExit(f"parts {n} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
                        r = json.loads(out.stdout.strip().splitlines()[-1])
                        assert r["rows"] == args.rows, r
                        results[n].append(r)
                        print(f"  rep {rep + 1} parts {n}: {r['seconds']:.1f} s", flush=True)
                        shutil.rmtree(lake / f"orders_{n}", ignore_errors=True)
            finally:
                shutil.rmtree(lake, ignore_errors=True)
    base = median([r["seconds"] for r in results[parts_list[0]]])
    rows = []
    for n in parts_list:
        secs = [r["seconds"] for r in results[n]]
        m = median(secs)
        rows.append([n, f"{m:.1f}", spread(secs), f"{args.rows / m:,.0f}", f"{base / m:.2f}x"])
    print()
    print(
        f"{args.rows:,} rows, PostgreSQL -> local Parquet lake, parts on {args.workers} local processes, {args.reps} reps, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}"
    )
    print(table(["parts", "seconds (median)", "min-max", "rows/s", f"speed vs parts {parts_list[0]}"], rows))


if __name__ == "__main__":
    main()
