"""`dag-factory demo`: the example pipelines, run day by day through Airflow itself.

Seeds the demo shop (SQLite), points Airflow (SQLite metadata DB) at dags/ and
pipelines/, and for each day changes the shop and runs every example DAG with
`dag.test()` for that day's interval. Then prints the warehouse tables' row counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRST_DAY = date(2024, 3, 1)


def demo_environment(home: Path) -> dict[str, str]:
    """Environment for Airflow and the example connections (all local, no secrets)."""
    return {
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("DAG_FACTORY_DEMO_LOG_LEVEL", "WARNING"),
        "DAG_FACTORY_PIPELINES": str(REPO / "pipelines"),
        "DAG_FACTORY_STAGING": str(home / "staging"),
        "AIRFLOW_CONN_SHOP_DB": json.dumps({"conn_type": "sqlite", "host": str(home / "shop.db")}),
        "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "extra": {"path": str(home / "lake")}}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
    }


def warehouse_counts(path: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') order by 1"
        ).fetchall()
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}  # noqa: S608


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

    from airflow.dag_processing.dagbag import DagBag

    from dag_factory.config.schedules import interval_for_date

    bag = DagBag(dag_folder=str(REPO / "dags"), bundle_name="dags-folder")
    if bag.import_errors:
        print(f"import errors: {bag.import_errors}", file=sys.stderr)
        return 1
    broken = [d for d in bag.dags.values() if "config-error" in d.tags]
    if broken:
        print(f"pipelines with config errors: {[d.dag_id for d in broken]}; run `dag-factory lint`", file=sys.stderr)
        return 1
    failed = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        changes = shop.simulate_day(home / "shop.db", day)
        print(f"\n== {day}: shop changes {changes}", flush=True)
        # scheduled pipelines first, then those that run `after:` them (the scheduler would
        # trigger those through their assets; dag.test() runs them with no logical date)
        ordered = sorted(bag.dags, key=lambda d: (bool(bag.dags[d].get_task("load.publish").pipeline.after), d))
        for dag_id in ordered:
            dag = bag.dags[dag_id]
            pipeline = dag.get_task("load.publish").pipeline
            interval = interval_for_date(pipeline.schedule, pipeline.timezone, day)
            # Airflow 3.3.2's dag.test() looks deadline alerts up by id on a DAG that was never
            # written to the DB ('dict' object has no attribute 'hex'); the scheduler path is fine.
            dag.deadline = None
            if pipeline.after:
                run = dag.test(run_after=interval.end, logical_date=None)
            else:
                run = dag.test(logical_date=interval.end)
            state = str(getattr(run, "state", "unknown"))
            print(f"   {dag_id:<20} {interval}  -> {state}", flush=True)
            if "success" not in state:
                failed.append((dag_id, day))
    print("\nwarehouse tables (DuckDB):")
    for table, count in warehouse_counts(home / "warehouse.duckdb").items():
        print(f"  {table:<32} {count:>6} rows")
    if failed:
        print(f"failed runs: {failed}", file=sys.stderr)
        return 1
    print("\nOpen the same in the Airflow UI: see README, 'Watch it in the Airflow UI'.")
    return 0
