"""The demo's data and environment, shared by `dag-factory demo` (dag.test() runs) and
`dag-factory demo --ui` (a running Airflow): the demo shop, its connections, the warehouse."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRST_DAY = date(2024, 3, 1)
RECENT_DAYS = 3


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
        counts = {}
        for (table,) in tables:
            row = db.execute(f"select count(*) from {table}").fetchone()  # noqa: S608
            counts[table] = row[0] if row else 0
        return counts


def seed(home: Path, days: int, fresh: bool, today: date | None = None) -> bool:
    """The demo shop (SQLite) with `days` days of activity since FIRST_DAY, like the
    one-shot demo, plus activity on the last RECENT_DAYS days up to `today`: the
    unpaused pipelines' first scheduled runs load the latest interval, and their data
    checks want rows there. Keeps an existing demo home unless `fresh`; returns
    whether it seeded."""
    from dag_factory.demo import shop

    (home / "airflow").mkdir(parents=True, exist_ok=True)
    db = home / "shop.db"
    today = today or datetime.now(UTC).date()
    recent = [today - timedelta(days=back) for back in range(RECENT_DAYS, -1, -1)]
    if db.exists() and not fresh:  # e.g. after ./demo.sh: bring its shop up to today
        with closing(sqlite3.connect(db)) as conn:
            (last,) = conn.execute("select max(date(updated_at)) from orders").fetchone()
        for day in recent:
            if last is None or day > date.fromisoformat(last):
                shop.simulate_day(db, day)
        return False
    history = [FIRST_DAY + timedelta(days=offset) for offset in range(days)]
    shop.create(db, FIRST_DAY)
    for day in sorted(set(history + recent)):
        shop.simulate_day(db, day)
    (home / "warehouse.duckdb").unlink(missing_ok=True)
    return True
