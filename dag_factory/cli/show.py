"""`dag-factory show NAME`: the resolved config and the task graph, without Airflow."""

from __future__ import annotations

import json

from dag_factory.cli.common import find_pipeline, pipelines_dir
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import cron_of


def show_command(name: str, env: str | None, pipelines: str | None) -> int:
    pipeline = find_pipeline(name, pipelines_dir(pipelines), env)
    if pipeline is None:
        return 1
    p = pipeline
    print(f"# {p.name} ({p.path}, environment {p.env})")
    print(json.dumps(p.resolved, indent=2, sort_keys=True, default=str))
    if p.after:
        schedule = f"assets: runs after {' and '.join(p.after)} have loaded"
    elif p.schedule:
        schedule = f"CronDataIntervalTimetable({cron_of(p.schedule)!r}, timezone={p.timezone!r})"
    else:
        schedule = "None (manual)"
    print(f"\nschedule: {schedule}")
    print("tasks:")
    for line in task_lines(p):
        print(f"  {line}")
    return 0


def task_lines(p: Pipeline) -> list[str]:
    """The task graph in order, one line per task (checks run side by side)."""
    lines = []
    if not p.in_warehouse:
        lake = f"lake {p.lake.conn_id}:{p.lake.path}" if p.lake else "local staging"
        wait = getattr(p.source, "wait", None)
        if wait is not None:
            lines.append(
                f"extract.wait_for_files  {p.source.conn_id}:{p.source.label} (up to {wait.timeout}, every {wait.poke_interval})"
            )
        if p.source.type == "sql":
            what = f"{p.source.conn_id}.{p.source.table or '(query)'}"
        else:  # http endpoint or file path
            what = f"{p.source.conn_id}: {p.source.type} {p.source.label}"
        lines.append(f"extract.to_lake   {what} -> {lake}")
    where = "inside the warehouse" if p.in_warehouse else "from the lake"
    lines.append(f"load.stage        -> staging table beside {p.target.table} ({where})")
    lines += [f"load.checks.{c.name:<11}{c.describe()}" for c in p.checks]
    lines.append(f"load.publish      -> {p.target.conn_id}.{p.target.table} ({p.load.mode})")
    return lines
