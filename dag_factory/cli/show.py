"""`dag-factory show NAME`: the resolved config and the task graph, without Airflow."""

from __future__ import annotations

import json

from dag_factory.cli.common import find_pipeline, pipelines_dir
from dag_factory.config.schedules import cron_of


def show_command(name: str, env: str | None, pipelines: str | None) -> int:
    pipeline = find_pipeline(name, pipelines_dir(pipelines), env)
    if pipeline is None:
        return 1
    p = pipeline
    print(f"# {p.name} ({p.path}, environment {p.env})")
    print(json.dumps(p.resolved, indent=2, sort_keys=True, default=str))
    schedule = f"CronDataIntervalTimetable({cron_of(p.schedule)!r}, timezone={p.timezone!r})" if p.schedule else "None (manual)"
    print(f"\nschedule: {schedule}")
    lake = f"lake {p.lake.conn_id}:{p.lake.path}" if p.lake else "local staging"
    print("tasks:")
    print(f"  extract  {p.source.conn_id}.{p.source.table or '(query)'} -> {lake}")
    print("     |")
    print(f"  load     -> {p.target.conn_id}.{p.target.table} ({p.load.mode})")
    return 0
