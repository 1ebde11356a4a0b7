"""Checks a JSON schema cannot express: name vs file, cron, time zone, mode rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dag_factory.config.schedules import cron_problem, timezone_problem
from dag_factory.config.yaml_loader import VALUE, KeyPath, Mark, nearest_mark
from dag_factory.errors import Problem


def semantic_problems(data: dict[str, Any], marks: dict[KeyPath, Mark], file: Path, display: str) -> list[Problem]:
    out: list[Problem] = []

    def add(path: KeyPath, message: str, hint: str = "", at_value: bool = True) -> None:
        m = nearest_mark(marks, path + (VALUE,) if at_value else path) or Mark(display, 1, 1)
        out.append(Problem(m.file, m.line, m.column, message, ".".join(map(str, path)), hint))

    name = data.get("name")
    if isinstance(name, str) and name != file.stem:
        add(
            ("name",),
            f"name {name!r} must equal the file name {file.stem!r}",
            f"rename the file to {name}.yaml or set name: {file.stem}",
        )

    schedule = data.get("schedule")
    if isinstance(schedule, dict) and name in (schedule.get("after") or []):
        add(("schedule", "after"), f"pipeline {name!r} cannot run after itself")
    if isinstance(schedule, str):
        problem = cron_problem(schedule)
        if problem:
            add(("schedule",), problem)

    tz = data.get("timezone")
    if isinstance(tz, str):
        problem = timezone_problem(tz)
        if problem:
            add(("timezone",), problem)

    start, end = data.get("start_date"), data.get("end_date")
    if isinstance(start, str) and isinstance(end, str) and end < start:
        add(("end_date",), f"end_date {end} is before start_date {start}")

    source = data.get("source")
    if isinstance(source, dict):
        given = [k for k in ("table", "query", "query_file") if k in source]
        if len(given) != 1:
            add(
                ("source",),
                at_value=False,
                message=f"source needs exactly one of 'table', 'query' or 'query_file' (got {', '.join(given) or 'none'})",
            )
        if "columns" in source and "table" not in source:
            add(("source", "columns"), "'columns' only applies to 'table'; select the columns in the query")
        target = data.get("target")
        if isinstance(target, dict) and source.get("conn_id") == target.get("conn_id") and data.get("lake"):
            add(
                ("lake",),
                at_value=False,
                message="source and target share a connection, so the query runs inside the warehouse and no lake is written; remove 'lake'",
            )

    load = data.get("load")
    if isinstance(load, dict):
        mode = load.get("mode")
        if mode == "incremental" and "cursor" not in load:
            add(
                ("load",),
                "incremental loads need 'cursor': the column that places a row in an interval",
                "e.g. cursor: updated_at",
                at_value=False,
            )
        if mode in ("snapshot", "full_refresh"):
            for key in ("cursor", "primary_key"):
                if key in load:
                    add(("load", key), at_value=False, message=f"'{key}' only applies to mode: incremental (this load is {mode})")
    return sorted(out, key=lambda p: (p.file, p.line, p.column))
