"""A load worker for the fault-injection and concurrency tests, run as its own process:

    python rel_worker.py '<json spec>'

It runs the steps of one interval the way the DAG's tasks do (runner.extract, wap.stage,
wap.publish), printing `STEP <name>` before each and `DONE` at the end, and SIGKILLs
itself at an injected point when the spec asks for one:
- {"kill": ["extract_batch", k]}: after the k-th source batch was handed to the lake writer;
- {"kill": ["execute", "stage"|"publish", k]}: just before the k-th SQL statement of that step
  (inside publish's transaction, e.g. between the DELETE and the INSERT);
- {"kill": ["between", "stage"|"publish"]}: after the previous step finished.
A timed kill comes from the parent instead (SIGKILL after a random delay).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime

from dag_factory.config.model import Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine import runner, wap
from dag_factory.engine.connections import ConnInfo


def pipeline_for(spec: dict) -> Pipeline:
    mode = spec["mode"]
    load = Load(
        mode="incremental" if mode.startswith("incremental") else mode,
        cursor="updated_at" if mode.startswith("incremental") else None,
        primary_key=("id",) if mode in ("incremental_pk", "history") else (),
        on_schema_change=spec.get("on_schema_change", "append_new_columns"),
    )
    return Pipeline(
        name=spec["name"],
        source=SqlSource(conn_id="src", table="orders", batch_size=spec.get("batch_size", 2000)),
        load=load,
        target=Target(conn_id="wh", table=spec["table"]),
    )


def conns(spec: dict) -> tuple[ConnInfo, ConnInfo, ConnInfo]:
    source = ConnInfo("src", "sqlite", host=spec["sqlite"])
    lake = ConnInfo("lake", "fs", host=spec["lake"])
    wh = spec["warehouse"]
    if wh["kind"] == "duckdb":
        warehouse = ConnInfo("wh", "duckdb", host=wh["path"])
    else:
        warehouse = ConnInfo(
            "wh",
            "postgres",
            host=wh["host"],
            port=wh["port"],
            login=wh["user"],
            password=wh.get("password"),
            database=wh["database"],
        )
    return source, lake, warehouse


def interval_of(spec: dict) -> Interval:
    return Interval(datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"]))


def run(spec: dict, announce=lambda step: None) -> int:
    """All three steps; returns the rows published (the caller may inject kills through `spec`)."""
    pipeline, interval = pipeline_for(spec), interval_of(spec)
    source, lake, warehouse = conns(spec)
    kill = spec.get("kill") or [None]
    step = {"name": ""}

    def die() -> None:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def progress(rows: int) -> None:
        progress.batches += 1
        if kill[0] == "extract_batch" and step["name"] == "extract" and progress.batches == kill[1]:
            die()

    progress.batches = 0
    if kill[0] == "execute":
        from dag_factory.engine.warehouses.duckdb import DuckDBWarehouse
        from dag_factory.engine.warehouses.postgres import PostgresWarehouse

        for cls in (DuckDBWarehouse, PostgresWarehouse):
            real = cls.execute

            def counted(self, sql, params=(), _real=real):
                if step["name"] == kill[1]:
                    counted.calls += 1
                    if counted.calls == kill[2]:
                        die()
                return _real(self, sql, params)

            counted.calls = 0
            cls.execute = counted

    def enter(name: str) -> None:
        if kill[0] == "between" and kill[1] == name:
            die()
        step["name"] = name
        announce(name)

    enter("extract")
    runner.extract(pipeline, interval, source, lake, progress)
    enter("stage")
    wap.stage(pipeline, interval, lake, warehouse)
    enter("publish")
    result = wap.publish(pipeline, interval, warehouse)
    return result.inserted


def main() -> None:
    spec = json.loads(sys.argv[1])

    def announce(step: str) -> None:
        print(f"STEP {step}", flush=True)

    rows = run(spec, announce)
    print(f"DONE {rows}", flush=True)


if __name__ == "__main__":
    main()
