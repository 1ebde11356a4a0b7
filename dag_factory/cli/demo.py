"""`dag-factory demo`: the example pipelines, run day by day through Airflow itself.

Seeds the demo shop (SQLite), points Airflow (SQLite metadata DB) at dags/ and
pipelines/, and for each day changes the shop and runs every example DAG with
`dag.test()` for that day's interval. Then prints the warehouse tables' row counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from datetime import timedelta
from pathlib import Path

from dag_factory.cli.demo_home import FIRST_DAY, REPO, demo_environment, warehouse_counts


def demo_command(days: int, home_arg: str, print_env: bool = False) -> int:
    home = Path(home_arg).resolve()
    if print_env:
        import shlex

        for key, value in demo_environment(home).items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party noise, not ours
    os.environ.update(demo_environment(home))
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    from dag_factory.demo import shop

    shop.create(home / "shop.db", FIRST_DAY)
    (home / "warehouse.duckdb").unlink(missing_ok=True)
    print(f"demo home: {home}\nmigrating the Airflow metadata DB (SQLite) ...", flush=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)

    from dag_factory.airflow.local_runs import load_dag_folder, run_for_day  # after AIRFLOW_HOME is set

    folder = load_dag_folder(REPO / "dags")
    if folder.import_errors:
        print(f"import errors: {folder.import_errors}", file=sys.stderr)
        return 1
    if folder.config_errors:
        print(f"pipelines with config errors: {folder.config_errors}; run `dag-factory lint`", file=sys.stderr)
        return 1
    failed = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        changes = shop.simulate_day(home / "shop.db", day)
        print(f"\n== {day}: shop changes {changes}", flush=True)
        for local in folder.dags:
            interval, state = run_for_day(local, day)
            print(f"   {local.dag.dag_id:<20} {interval}  -> {state}", flush=True)
            if "success" not in state:
                failed.append((local.dag.dag_id, day))
    print("\nwarehouse tables (DuckDB):")
    for table, count in warehouse_counts(home / "warehouse.duckdb").items():
        print(f"  {table:<32} {count:>6} rows")
    if failed:
        print(f"failed runs: {failed}", file=sys.stderr)
        return 1
    print("\nOpen the same in the Airflow UI: see README, 'Watch it in the Airflow UI'.")
    return 0
