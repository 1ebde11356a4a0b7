"""Parsing at scale (issue 15, item 6): N generated pipelines (default 10,000) as one generate.py
against the sharded layout of `dag-factory shards`, through Airflow's own parse paths.

    .venv/bin/python benchmarks/bench_scale.py                  # N = 10,000; ~10 min
    .venv/bin/python benchmarks/bench_scale.py --quick          # N = 2,000, no single-file runs
    .venv/bin/python benchmarks/bench_scale.py --n 10000 --shards 20 --reps 3 --skip-single

What runs, each in a fresh process (see _parse_child.py), with the config cache warm (as in a
running deployment; the first parse of every file is the cold cost, shown on its own):
  1. every DAG file's dag-processor path (_parse_file: stability check, BundleDagBag,
     serialization, result frame), one file at a time;
  2. the real `airflow dag-processor -n 1` (every file parsed once by Airflow's manager with its
     default 2 parsing processes) into a fresh SQLite metadata DB: DAGs stored, import errors,
     Airflow's own last_parse_duration per file;
  3. worker start: BundleDagBag of the DAG's file with the parsing context set, N=1 vs N.
Targets (printed met/missed): every file's parse under a third of dagbag_import_timeout (30 s),
the whole set parsed by the dag-processor with no import error, worker start within 2x of N=1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from _common import BENCH, OURS_PY, airflow_env, median, print_machine, run_child, spread, table, tmpdir
from gen_pipelines import write_ours

from dag_factory.config.shards import shard_file_name, shard_of, shards_for, write_layout

CHILD = str(BENCH / "_parse_child.py")
TIMEOUT = 30.0  # [core] dagbag_import_timeout's default
TARGET = "sales_orders_0000"  # present at every N


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def child(mode: str, dag_file: Path, env: dict[str, str], timeout: float = 900) -> dict:
    return run_child(OURS_PY, [CHILD, mode, str(dag_file)], env, timeout=timeout)


def dag_processor(dags: Path, pipelines: Path, cache: Path) -> dict:
    """`airflow dag-processor -n 1` over `dags` into a fresh metadata DB; what it stored."""
    home = tmpdir("dagf-scale-proc-")
    env = airflow_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        DAG_FACTORY_PIPELINES=str(pipelines),
        DAG_FACTORY_CACHE_DIR=str(cache),
    )
    try:
        subprocess.run([str(OURS_PY), "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(OURS_PY), "-m", "airflow", "dag-processor", "-n", "1"], env=env, capture_output=True, text=True, timeout=1800
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"dag-processor failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        db = sqlite3.connect(home / "airflow.db")
        per_file = db.execute(
            "select relative_fileloc, count(*), max(last_parse_duration) from dag where not is_stale group by relative_fileloc"
        ).fetchall()
        serialized = db.execute("select count(*) from serialized_dag").fetchone()[0]
        errors = db.execute("select filename, stacktrace from import_error").fetchall()
        db.close()
        return {"wall_s": wall, "per_file": per_file, "serialized": serialized, "errors": errors}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--shards", type=int, default=0, help="shard files (default: what `dag-factory shards` picks)")
    ap.add_argument("--reps", type=int, default=3, help="repeats of the worker start")
    ap.add_argument("--checks", type=int, default=3)
    ap.add_argument("--alerts", type=int, default=1)
    ap.add_argument("--skip-single", action="store_true", help="skip the single generate.py at N (slow, times out)")
    ap.add_argument("--skip-processor", action="store_true", help="skip the real `airflow dag-processor` run")
    ap.add_argument("--quick", action="store_true", help="N = 2,000, --skip-single, 1 repeat")
    a = ap.parse_args()
    if a.quick:
        a.n, a.skip_single, a.reps = 2000, True, 1
    shards = a.shards or shards_for(a.n)
    print_machine()
    print(f"load average: {load()} on {os.cpu_count()} cores")
    print(
        f"shape: {a.n} pipelines, incremental SQL -> lake -> warehouse, {a.checks} checks, {a.alerts} alert(s); {shards} shards\n"
    )

    work = tmpdir("dagf-scale-")
    home, cache = work / "home", work / "cache"
    home.mkdir()
    write_ours(work / "big", a.n, a.checks, a.alerts)
    write_ours(work / "one", 1, a.checks, a.alerts)
    pipelines = work / "big" / "pipelines"
    single = work / "big" / "dags" / "generate.py"
    sharded = work / "sharded"
    write_layout(sharded, shards)
    files = [sharded / shard_file_name(i, shards) for i in range(shards)]
    env = airflow_env(home, DAG_FACTORY_PIPELINES=str(pipelines), DAG_FACTORY_CACHE_DIR=str(cache))
    env_one = airflow_env(home, DAG_FACTORY_PIPELINES=str(work / "one" / "pipelines"), DAG_FACTORY_CACHE_DIR=str(cache))
    try:
        # cold: every file new (fills the config cache and the .pyc files)
        cold = [child("exec", f, env) for f in files]
        child("exec", work / "one" / "dags" / "generate.py", env_one)
        print(
            f"cold first parse of every shard (config cache empty): max {max(r['seconds'] for r in cold):.2f} s, "
            f"sum {sum(r['seconds'] for r in cold):.1f} s\n"
        )

        rows, results = [], []
        for f in files:
            r = child("dagbag", f, env)
            results.append(r)
            if r["errors"]:
                print(f"!! {f.name}: {r['errors']} import errors {r.get('error_text', '')}")
        secs = [r["seconds"] for r in results]
        cpus = [r["cpu_seconds"] for r in results]
        rows.append(
            [
                f"{shards} shard files",
                f"{min(r['dags'] for r in results)}-{max(r['dags'] for r in results)}",
                f"{median(secs):.2f}",
                f"{max(secs):.2f}",
                f"{max(cpus):.2f}",
                f"{sum(secs):.1f}",
                f"{max(r['max_rss_mb'] for r in results):.0f}",
                f"{max(r['frame_bytes'] for r in results) / 1e6:.1f}",
                f"{max(secs) / TIMEOUT:.0%}",
            ]
        )
        if not a.skip_single:
            r = child("dagbag", single, env, timeout=1800)
            rows.append(
                [
                    "one generate.py",
                    r["dags"],
                    f"{r['seconds']:.2f}",
                    f"{r['seconds']:.2f}",
                    f"{r['cpu_seconds']:.2f}",
                    f"{r['seconds']:.1f}",
                    f"{r['max_rss_mb']:.0f}",
                    f"{r['frame_bytes'] / 1e6:.1f}",
                    f"{r['seconds'] / TIMEOUT:.0%}",
                ]
            )
        print(f"### Dag-processor path per DAG file (_parse_file + result frame), N={a.n}, config cache warm\n")
        headers = [
            "layout",
            "DAGs per file",
            "median s/file",
            "max s/file",
            "max CPU s/file",
            "sum s",
            "max RSS MB",
            "max frame MB",
            "max / 30 s timeout",
        ]
        print(table(headers, rows))
        per_file_ok = max(secs) < TIMEOUT / 3
        print(f"\nload average after: {load()} (wall times stretch with it; CPU seconds much less)")

        proc_ok = None
        if not a.skip_processor:
            print("\n### `airflow dag-processor -n 1` (parsing_processes=2, SQLite), every file parsed once\n")
            layouts = [("shards", sharded)] + ([] if a.skip_single else [("one generate.py", single.parent)])
            prow = []
            for name, dags in layouts:
                p = dag_processor(dags, pipelines, cache)
                durations = [d for _, _, d in p["per_file"] if d is not None]
                prow.append(
                    [
                        name,
                        f"{p['wall_s']:.1f}",
                        len(p["per_file"]),
                        sum(c for _, c, _ in p["per_file"]),
                        p["serialized"],
                        len(p["errors"]),
                        f"{max(durations):.2f}" if durations else "-",
                    ]
                )
                for fname, trace in p["errors"][:2]:
                    print(f"  import error in {fname}: {trace.strip().splitlines()[-1][:200]}")
                if name == "shards":
                    proc_ok = (
                        not p["errors"]
                        and p["serialized"] == a.n
                        and len(p["per_file"]) == shards
                        and bool(durations)
                        and max(durations) < TIMEOUT / 3
                    )
            print(
                table(
                    [
                        "layout",
                        "wall s",
                        "files with DAGs",
                        "DAGs (not stale)",
                        "serialized",
                        "import errors",
                        "max last_parse_duration s",
                    ],
                    prow,
                )
            )

        print(f"\n### Worker start: BundleDagBag of {TARGET}'s DAG file with the parsing context set\n")
        ctx = {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": TARGET, "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "extract.to_lake"}
        contenders = [
            ("N=1, generate.py", work / "one" / "dags" / "generate.py", {**env_one, **ctx}),
            (f"N={a.n}, shard file", sharded / shard_file_name(shard_of(TARGET, shards), shards), {**env, **ctx}),
            (f"N={a.n}, one generate.py", single, {**env, **ctx}),
        ]
        worker: dict[str, list[dict]] = {}
        for _ in range(a.reps):
            for name, f, e in contenders:
                worker.setdefault(name, []).append(child("worker", f, e))
        base = median([r["seconds"] for r in worker[contenders[0][0]]])
        wrows = []
        for name, _, _ in contenders:
            s = [r["seconds"] for r in worker[name]]
            wrows.append([name, f"{median(s):.3f}", spread(s), worker[name][0]["dags"], f"{median(s) / base:.2f}x"])
        print(table(["worker", "median s", "min-max s", "DAGs built", "vs N=1"], wrows))
        w_ratio = median([r["seconds"] for r in worker[contenders[1][0]]]) / base

        print("\n### Targets\n")
        trows = [
            [
                f"every DAG file's dag-processor parse < {TIMEOUT / 3:.0f} s (a third of the timeout)",
                f"max {max(secs):.2f} s over {shards} files",
                "met" if per_file_ok else "MISSED",
            ],
            [
                "the whole set parsed by Airflow's parallel processors",
                "skipped" if proc_ok is None else ("all DAGs stored, no import error" if proc_ok else "see above"),
                "-" if proc_ok is None else ("met" if proc_ok else "MISSED"),
            ],
            [
                "same, in CPU seconds (what an unloaded core would take)",
                f"max {max(cpus):.2f} CPU s",
                "met" if max(cpus) < TIMEOUT / 3 else "MISSED",
            ],
            [f"worker start at N={a.n} within 2x of N=1", f"{w_ratio:.2f}x", "met" if w_ratio <= 2 else "MISSED"],
        ]
        print(table(["target", "result", ""], trows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
