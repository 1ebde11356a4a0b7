"""Where our parse time goes: cProfile of executing dags/generate.py over N generated pipelines.

    .venv/bin/python benchmarks/profile_parse.py              # N = 1000
    .venv/bin/python benchmarks/profile_parse.py -n 3000 --top 40 --out /tmp/parse.prof

Runs in this process after Airflow is imported (as the dag-processor has it), first once
unprofiled (the honest total), then under cProfile (which inflates pure-Python code, so read the
shares, not the absolute ms). Prints the cost of each stage of the generator, then the top
functions by own time. `python -m pstats FILE` or snakeviz open the saved profile.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import shutil
import subprocess
import time
from pathlib import Path

from _common import BENCH, OURS_PY, airflow_env, tmpdir

# (label, file path fragment, function name): cumulative time of these stages
STAGES = [
    ("whole file: imports of our modules (+ jsonschema, yaml...) + generate", "dag_factory/airflow/__init__.py", "generate_dags"),
    ("  generate_dags (generate.py), imports excluded", "dag_factory/airflow/generate.py", "generate_dags"),
    ("  discover() (walk + sort)", "dag_factory/config/loader.py", "discover"),
    ("  load_pipelines total", "dag_factory/config/loader.py", "load_pipelines"),
    ("    load_file (YAML compose + marks)", "dag_factory/config/yaml_loader.py", "load_file"),
    ("    display_path (resolve + relative_to)", "dag_factory/config/loader.py", "display_path"),
    ("    _DefaultsCache.chain", "dag_factory/config/loader.py", "chain"),
    ("    merge_layers", "dag_factory/config/merge.py", "merge_layers"),
    ("    schema_problems (jsonschema)", "dag_factory/config/validate.py", "schema_problems"),
    ("    semantic_problems", "dag_factory/config/semantic.py", "semantic_problems"),
    ("      cron_problem (croniter)", "dag_factory/config/schedules.py", "cron_problem"),
    ("    build_pipeline", "dag_factory/config/build.py", "build_pipeline"),
    ("  build_dag total", "dag_factory/airflow/builder.py", "build_dag"),
    ("    doc_md", "dag_factory/airflow/docs.py", "doc_md"),
    ("      schedule_in_words (cron_descriptor)", "dag_factory/config/describe.py", "schedule_in_words"),
    ("    DAG.__init__ (airflow)", "<attrs generated methods airflow.sdk.definitions.dag.DAG>", "__init__"),
    ("    operators' __init__ (airflow BaseOperator.apply_defaults)", "airflow/sdk/bases/operator.py", "apply_defaults"),
    ("    TaskGroup.__init__ (airflow)", "<attrs generated methods airflow.sdk.definitions.taskgroup.TaskGroup>", "__init__"),
    ("    asset_for (airflow Asset)", "dag_factory/airflow/builder.py", "asset_for"),
    ("    task dependencies (>>)", "airflow/sdk/definitions/_internal/mixins.py", "__rshift__"),
    ("    dag.validate()", "airflow/sdk/definitions/dag.py", "validate"),
    ("    dag.check_cycle()", "airflow/sdk/definitions/dag.py", "check_cycle"),
]


def run_file(path: Path) -> None:
    spec = importlib.util.spec_from_file_location("unusual_prefix_profile_generate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def stage_table(stats: pstats.Stats, total: float) -> list[tuple[str, float, int]]:
    out = []
    for label, frag, func in STAGES:
        ct, nc = 0.0, 0
        for (file, _line, name), (_cc, ncalls, _tt, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if name == func and frag in file.replace(os.sep, "/"):
                ct, nc = max(ct, cum), ncalls
        out.append((label, ct, nc))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", type=Path, help="save the cProfile stats here")
    ap.add_argument(
        "--warm-cache",
        action="store_true",
        help="profile with the config cache warm (default: DAG_FACTORY_CACHE=off, the full loader)",
    )
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is None:  # parent: generate, then profile in a fresh process with a private AIRFLOW_HOME
        root = tmpdir(f"dagf-profile-{a.n}-")
        env = airflow_env(tmpdir("dagf-profile-home-"), **({} if a.warm_cache else {"DAG_FACTORY_CACHE": "off"}))
        subprocess.run(
            [str(OURS_PY), str(BENCH / "gen_pipelines.py"), str(root), "-n", str(a.n)], check=True, env=env, capture_output=True
        )
        args = [str(OURS_PY), __file__, "-n", str(a.n), "--top", str(a.top), "--child", str(root / "ours")]
        if a.out:
            args += ["--out", str(a.out)]
        subprocess.run([*args, "--plain"], env=env, cwd=root / "ours", check=True)  # warm-up: .pyc, page cache
        subprocess.run([*args, "--plain"], env=env, cwd=root / "ours", check=True)
        rc = subprocess.run(args, env=env, cwd=root / "ours", check=False).returncode
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(env["AIRFLOW_HOME"], ignore_errors=True)
        raise SystemExit(rc)

    import airflow  # noqa: F401
    from airflow.sdk import DAG, BaseOperator  # noqa: F401

    dag_file = a.child / "dags" / "generate.py"
    if a.plain:  # a fresh process, no profiler: the import of our modules, then the file
        t0 = time.perf_counter()
        import dag_factory.airflow.generate  # noqa: F401

        t1 = time.perf_counter()
        run_file(dag_file)
        t2 = time.perf_counter()
        print(
            f"N = {a.n}, unprofiled: {t2 - t0:.3f} s = import of our modules {t1 - t0:.3f} s "
            f"+ generate_dags {t2 - t1:.3f} s ({1000 * (t2 - t1) / a.n:.2f} ms/DAG)"
        )
        return
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run_file(dag_file)
    prof.disable()
    profiled = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    if a.out:
        stats.dump_stats(a.out)
    print(f"N = {a.n}: executing generate.py (cold process) took {profiled:.3f} s under cProfile\n")
    print("| stage | cumulative ms (profiled) | share | calls |")
    print("|---|---|---|---|")
    for label, ct, nc in stage_table(stats, profiled):
        print(f"| {label} | {1000 * ct:.0f} | {100 * ct / profiled:.0f}% | {nc} |")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(a.top)
    print(f"\nTop {a.top} functions by own time (profiled):\n")
    print(buf.getvalue().split("\n", 6)[-1] if "ncalls" in buf.getvalue() else buf.getvalue())
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(a.top)
    print(f"\nTop {a.top} by cumulative time (profiled):\n")
    print(buf.getvalue())


if __name__ == "__main__":
    main()
