"""Parse and worker-start cost of N generated pipelines, ours against the hand-written floor and
astronomer's dag-factory 1.1.0, side by side in one run.

    .venv/bin/python benchmarks/bench_parse.py                 # N = 100, 1000, 3000; 3 repeats
    .venv/bin/python benchmarks/bench_parse.py --quick         # N = 100, 1000; 1 repeat (~2 min)
    .venv/bin/python benchmarks/bench_parse.py --n 1000 --reps 5 --only parse

Needs benchmarks/setup_peer.sh first (the dag-factory venv). Every measurement is a fresh
process (see _parse_child.py); repeats are interleaved across contenders so machine noise hits
them alike; the table shows the median and the min-max of the repeats.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from _common import BENCH, OURS_PY, PEER_PY, airflow_env, median, need_peer, print_machine, run_child, spread, table, tmpdir

CHILD = str(BENCH / "_parse_child.py")

# name, python, folder made by gen_pipelines, DAG file inside it[, extra environment]
CONTENDERS = [
    ("ours", OURS_PY, "ours", "dags/generate.py"),
    # the config cache (in AIRFLOW_HOME) is warm after the warm-up run, as in a running dag-processor;
    # this row is the cold cost of every file being new or changed
    ("ours, DAG_FACTORY_CACHE=off", OURS_PY, "ours", "dags/generate.py", {"DAG_FACTORY_CACHE": "off"}),
    ("hand-written, our operators (floor)", OURS_PY, "hand", "dags/handwritten.py"),
    ("hand-written, EmptyOperator", OURS_PY, "hand_empty", "dags/handwritten_empty.py"),
    ("hand-written, EmptyOperator [peer venv]", PEER_PY, "hand_empty", "dags/handwritten_empty.py"),
    ("dag-factory 1.1.0 (EmptyOperator)", PEER_PY, "dagfactory", "dags/load_dagfactory.py"),
]
OURS, FLOOR, PEER = CONTENDERS[0][0], CONTENDERS[2][0], CONTENDERS[5][0]
WORKER_CONTENDERS = [CONTENDERS[0], CONTENDERS[2], CONTENDERS[5]]


def generate(n: int, checks: int, alerts: int) -> Path:
    out = tmpdir(f"dagf-bench-{n}-")
    cmd = [
        str(OURS_PY),
        str(BENCH / "gen_pipelines.py"),
        str(out),
        "-n",
        str(n),
        "--checks",
        str(checks),
        "--alerts",
        str(alerts),
    ]
    home = tmpdir("dagf-gen-home-")
    try:
        subprocess.run(cmd, check=True, capture_output=True, env=airflow_env(home))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return out


def measure(contender, root: Path, mode: str, home: Path, extra_env: dict[str, str] | None = None) -> dict:
    python, folder, dag_file = contender[1:4]
    env = airflow_env(home, **(contender[4] if len(contender) > 4 else {}), **(extra_env or {}))
    return run_child(python, [CHILD, mode, dag_file], env, cwd=root / folder)


def run_parse(ns: list[int], reps: int, modes: list[str], checks: int, alerts: int) -> None:
    home = tmpdir("dagf-bench-home-")
    results: dict[tuple[str, int, str], list[dict]] = {}
    for n in ns:
        root = generate(n, checks, alerts)
        for c in CONTENDERS:  # warm-up: writes the DAG files' .pyc and fills the page cache
            measure(c, root, "exec", home)
        for _ in range(reps):
            for mode in modes:
                for c in CONTENDERS:
                    r = measure(c, root, mode, home)
                    if r["dags"] != n or r["errors"]:
                        print(f"!! {c[0]} N={n} {mode}: {r['dags']} DAGs, {r['errors']} errors {r.get('error_text', '')}")
                    results.setdefault((c[0], n, mode), []).append(r)
                tasks = {c[0]: results[(c[0], n, mode)][-1]["tasks"] for c in CONTENDERS}
                if len(set(tasks.values())) != 1:
                    print(f"!! N={n} {mode}: the contenders built different task counts {tasks}: update gen_pipelines.py")
        shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    for mode in modes:
        title = {
            "exec": "Parse: executing the DAG file (Airflow imported; our package / dag-factory import included)",
            "dagbag": "Full dag-processor path: stability check + BundleDagBag + serialization + result frame",
        }[mode]
        print(f"\n### {title}\n")
        rows = []
        for n in ns:
            floor = median([r["seconds"] for r in results[(FLOOR, n, mode)]])
            ours = median([r["seconds"] for r in results[(OURS, n, mode)]])
            for c in CONTENDERS:
                rs = results[(c[0], n, mode)]
                secs = [r["seconds"] for r in rs]
                s = median(secs)
                rows.append(
                    [
                        n,
                        c[0],
                        f"{s:.3f}",
                        spread(secs),
                        f"{1000 * s / n:.2f}",
                        f"{median([r['cpu_seconds'] for r in rs]):.3f}",
                        f"{median([r['max_rss_mb'] for r in rs]):.0f}",
                        f"{median([r['stability_s'] for r in rs]):.3f}" if mode == "dagbag" else "-",
                        f"{s / floor:.2f}x",
                        f"{s / ours:.2f}x",
                    ]
                )
        headers = ["N", "contender", "median s", "min-max s", "ms/DAG", "CPU s", "max RSS MB", "of which stability check s"]
        print(table([*headers, "vs floor", "vs ours"], rows))
        print()
        summary = []
        for n in ns:
            floor = median([r["seconds"] for r in results[(FLOOR, n, mode)]])
            ours = median([r["seconds"] for r in results[(OURS, n, mode)]])
            peer = median([r["seconds"] for r in results[(PEER, n, mode)]])
            row = [
                n,
                f"{ours / floor:.2f}x",
                "yes" if ours / floor <= 1.3 else "NO",
                f"{peer / ours:.2f}x",
                "yes" if peer / ours >= 4 else "NO",
            ]
            if mode == "dagbag":  # the floor is one big file: Airflow's AST stability scan of it is a layout cost
                stab = {k: median([r["stability_s"] for r in results[(k, n, mode)]]) for k in (OURS, FLOOR)}
                adj = (ours - stab[OURS]) / (floor - stab[FLOOR])
                row.append(f"{adj:.2f}x {'yes' if adj <= 1.3 else 'NO'}")
            summary.append(row)
        extra = ["ours / floor without the stability check"] if mode == "dagbag" else []
        print(table(["N", "ours / floor", "<= 1.3x?", "dag-factory / ours", ">= 4x?", *extra], summary))


def run_worker(ns: list[int], reps: int, checks: int, alerts: int) -> None:
    """A worker at task start builds the DAG file with the parsing context set."""
    home = tmpdir("dagf-bench-home-")
    results: dict[tuple[str, int], list[dict]] = {}
    roots = {n: generate(n, checks, alerts) for n in ns}
    for root in roots.values():
        for c in WORKER_CONTENDERS:
            measure(c, root, "exec", home)
    target = "sales_orders_0000"  # present at every N
    ctx = {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": target, "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "extract.to_lake"}
    for _ in range(reps):
        for n, root in roots.items():
            for c in WORKER_CONTENDERS:
                r = measure(c, root, "worker", home, ctx)
                results.setdefault((c[0], n), []).append(r)
    for root in [*roots.values(), home]:
        shutil.rmtree(root, ignore_errors=True)
    print("\n### Worker start: BundleDagBag of the DAG file with the parsing context set (one task's DAG)\n")
    rows = []
    for c in WORKER_CONTENDERS:
        base = median([r["seconds"] for r in results[(c[0], ns[0])]])
        for n in ns:
            rs = results[(c[0], n)]
            secs = [r["seconds"] for r in rs]
            s = median(secs)
            rows.append([c[0], n, f"{s:.3f}", spread(secs), rs[0]["dags"], f"{s / base:.2f}x"])
    print(table(["contender", "N present", "median s", "min-max s", "DAGs built", f"vs N={ns[0]}"], rows))
    ours = [median([r["seconds"] for r in results[(OURS, n)]]) for n in ns]
    ok = ours[-1] / ours[0] <= 2
    print(f"\ntarget: ours at N={ns[-1]} within 2x of N={ns[0]}: {ours[-1] / ours[0]:.2f}x -> {'met' if ok else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100,1000,3000", help="pipeline counts for the parse (comma-separated)")
    ap.add_argument("--worker-n", default="1,1000", help="pipeline counts for the worker start")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="parse,worker", help="parse, worker or both")
    ap.add_argument("--modes", default="exec,dagbag", help="parse modes: exec (the file), dagbag (dag-processor path)")
    ap.add_argument("--checks", type=int, default=3, help="data checks per pipeline (0-3), see gen_pipelines.py")
    ap.add_argument("--alerts", type=int, default=1, help="failure alert channels per pipeline, see gen_pipelines.py")
    ap.add_argument("--quick", action="store_true", help="N = 100,1000, 1 repeat")
    a = ap.parse_args()
    need_peer()
    if a.quick:
        a.n, a.reps = "100,1000", 1
    print_machine()
    print(f"shape: incremental SQL -> lake -> warehouse, {a.checks} checks, {a.alerts} alert(s) per pipeline")
    only = a.only.split(",")
    if "parse" in only:
        run_parse([int(x) for x in a.n.split(",")], a.reps, a.modes.split(","), a.checks, a.alerts)
    if "worker" in only:
        run_worker([int(x) for x in a.worker_n.split(",")], a.reps, a.checks, a.alerts)


if __name__ == "__main__":
    main()
