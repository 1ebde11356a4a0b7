"""`dag-factory show NAME`: the resolved config and the task graph, without Airflow."""

from __future__ import annotations

import json

from dag_factory.cli.common import find_pipeline, pipelines_dir
from dag_factory.config.describe import parallel_text, source_table, staged_from, target_text, task_ids
from dag_factory.config.model import FileSource, Pipeline
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
    checks = {f"load.checks.{c.name}": c for c in p.checks}
    lines = []
    for task_id in task_ids(p):
        if task_id == "extract.wait_for_files" and isinstance(p.source, FileSource) and p.source.wait:
            wait = p.source.wait
            lines.append(f"{task_id}  {p.source.conn_id}:{p.source.label} (up to {wait.timeout}, every {wait.poke_interval})")
        elif task_id == "extract.to_lake":
            lake = f"lake {p.lake.conn_id}:{p.lake.path}" if p.lake else "local staging"
            if p.source.type == "sql":
                what = f"{p.source.conn_id}.{source_table(p) or '(query)'}"
            else:  # http endpoint or file path
                what = f"{p.source.conn_id}: {p.source.type} {p.source.label}"
            parts = parallel_text(p)
            lines.append(f"{task_id}   {what} -> {lake}" + (f" ({parts}, one mapped task each)" if parts else ""))
        elif task_id == "extract.plan":
            lines.append(f"{task_id}      the parts' ranges of {source_table(p) or '(query)'} for the interval")
        elif task_id == "extract.commit":
            lines.append(f"{task_id}    all parts -> the interval's partition, atomically")
        elif task_id == "load.stage":
            lines.append(f"{task_id}        -> staging table beside {p.target.table} ({staged_from(p)})")
        elif task_id in checks:
            lines.append(f"{task_id:<22} {checks[task_id].describe()}")
        elif task_id == "load.publish":
            lines.append(f"{task_id}      -> {target_text(p)} ({p.load.mode})")
    return lines
