"""Lint 1000 pipeline files: `dag-factory lint` against `check-jsonschema` with our schema.

    .venv/bin/python benchmarks/bench_lint.py              # 1000 files, 5 repeats
    .venv/bin/python benchmarks/bench_lint.py --files 3000 --reps 3
    .venv/bin/python benchmarks/bench_lint.py --quick      # 1 repeat

Needs benchmarks/setup_peer.sh first (check-jsonschema 0.39.0 lives in .venv-peer). Two views:
the whole command as a user or CI runs it (process start to exit), and the lint call alone
inside a process ("work": after the linter is imported). They do not do the same work:
check-jsonschema validates each file on its own against the schema; ours also merges
_defaults.yaml, runs the semantic checks (cron, timezone, identifiers, keys...), checks every
environment's overrides and keeps file/line/column for each value.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import BENCH, OURS_PY, PEER_PY, REPO, median, need_peer, print_machine, run_child, spread, table, tmpdir

sys.path.insert(0, str(BENCH))
from gen_pipelines import write_ours  # noqa: E402

SCHEMA = str(REPO / "schemas" / "pipeline.schema.json")
CHILD = str(BENCH / "_lint_child.py")


def cli(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user+sys) of one command, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    need_peer()
    if a.quick:
        a.reps = 1
    print_machine()
    root = tmpdir("dagf-bench-lint-")
    write_ours(root, a.files, 0, 0)
    files = sorted(str(p.relative_to(root)) for p in (root / "pipelines").rglob("*.yaml") if not p.name.startswith("_"))
    ours_cli = [str(OURS_PY.parent / "dag-factory"), "lint", "pipelines"]
    cj_cli = [str(PEER_PY.parent / "check-jsonschema"), "--schemafile", SCHEMA, *files]
    # warm-up (page cache, .pyc)
    cli(ours_cli, root)
    cli(cj_cli, root)
    res: dict[str, list] = {k: [] for k in ("ours_cli", "cj_cli", "ours_in", "cj_in")}
    for _ in range(a.reps):
        res["ours_cli"].append(cli(ours_cli, root))
        res["cj_cli"].append(cli(cj_cli, root))
        res["ours_in"].append(run_child(OURS_PY, [CHILD, "ours", "pipelines"], env=None, cwd=root))
        res["cj_in"].append(run_child(PEER_PY, [CHILD, "check-jsonschema", SCHEMA, *files], env=None, cwd=root))
    shutil.rmtree(root, ignore_errors=True)
    for r in res["ours_in"] + res["cj_in"]:
        if r["rc"] != 0:
            print(f"!! a linter reported problems: {r['tail']}")
    n = a.files
    rows = []
    for name, c, i in (("dag-factory lint (ours)", "ours_cli", "ours_in"), ("check-jsonschema 0.39.0", "cj_cli", "cj_in")):
        walls = [w for w, _ in res[c]]
        works = [r["work_s"] for r in res[i]]
        rows.append(
            [
                name,
                f"{median(walls):.3f}",
                spread(walls),
                f"{median([cpu for _, cpu in res[c]]):.3f}",
                f"{median([r['import_s'] for r in res[i]]):.3f}",
                f"{median(works):.3f}",
                spread(works),
                f"{1000 * median(works) / n:.2f}",
            ]
        )
    print(f"### Lint: {n} files\n")
    print(table(["linter", "command s", "min-max", "command CPU s", "import s", "lint work s", "min-max", "ms/file"], rows))
    ours_w, cj_w = median([r["work_s"] for r in res["ours_in"]]), median([r["work_s"] for r in res["cj_in"]])
    ours_c, cj_c = median([w for w, _ in res["ours_cli"]]), median([w for w, _ in res["cj_cli"]])
    print(
        f"\nours / check-jsonschema: command {ours_c / cj_c:.2f}x, work {ours_w / cj_w:.2f}x"
        f"\ntarget: {n} files in under 1 s of work ({ours_w:.2f} s -> {'met' if ours_w < 1 else 'MISSED'}), "
        f"faster than check-jsonschema (command {'met' if ours_c < cj_c else 'MISSED'}, work {'met' if ours_w < cj_w else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
