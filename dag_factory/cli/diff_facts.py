"""What `dag-factory diff` compares: one pipeline's DAG as comparable strings (Facts), and
the changes between two of them in words a reviewer acts on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dag_factory.config.describe import (
    alert_facts,
    check_facts,
    lake_text,
    load_text,
    schedule_text,
    source_query,
    source_text,
    target_text,
    task_ids,
)
from dag_factory.config.model import Pipeline

_HANDLED = {
    "name", "version", "description", "owner", "tags", "schedule", "timezone", "start_date", "end_date", "catchup",
    "max_active_runs", "source", "load", "lake", "target", "checks", "alerts", "retries", "retry_delay", "timeout",
}  # fmt: skip
_HANDLED_SOURCE = {"type", "conn_id", "table", "query", "query_file", "columns", "endpoint", "path"}  # in source_text


def _flatten(value: Any, prefix: str) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(value, default=str, sort_keys=True)}


def settings(p: Pipeline) -> dict[str, str]:
    """Everything else that shapes the DAG, as display strings (new keys appear generically)."""
    out = {
        "description": p.description or "",
        "owner": p.owner,
        "tags": ", ".join(p.tags) or "none",  # the generated ones follow from load type, source and target
        "start_date": p.start_date.isoformat(),
        "end_date": p.end_date.isoformat() if p.end_date else "none",
        "catchup": str(p.catchup).lower(),
        "max_active_runs": str(p.max_active_runs),
        "retries": str(p.retries),
        "retry_delay": str(p.retry_delay),
        "timeout": str(p.timeout),
    }
    resolved = p.resolved or {}
    for key, value in resolved.items():
        if key == "source" and isinstance(value, dict):
            out.update(_flatten({k: v for k, v in value.items() if k not in _HANDLED_SOURCE}, "source"))
        elif key not in _HANDLED:
            out.update(_flatten(value, key))
    return out


@dataclass
class Facts:
    """What a reviewer needs to know about one pipeline's DAG, as comparable strings."""

    name: str
    path: str
    schedule: str
    after: tuple[str, ...]
    load: str
    source: str
    query: str | None
    lake: str
    target: str
    tasks: list[str]
    checks: dict[str, str]
    alerts: dict[str, str]
    settings: dict[str, str]
    review: dict[str, str] = field(default_factory=dict)  # what a reviewer checks on a new pipeline

    def signature(self) -> str:
        """Everything but the name and the file: equal signatures = same content."""
        d = {k: v for k, v in self.__dict__.items() if k not in ("name", "path")}
        return json.dumps(d, sort_keys=True, default=str)


def facts(p: Pipeline, path: str) -> Facts:
    return Facts(
        name=p.name,
        path=path,
        schedule=schedule_text(p),
        after=tuple(p.after),
        load=load_text(p),
        source=source_text(p),
        query=source_query(p),
        lake=lake_text(p),
        target=target_text(p),
        tasks=task_ids(p),
        checks=check_facts(p),
        alerts=alert_facts(p),
        settings=settings(p),
        review=review_facts(p),
    )


def review_facts(p: Pipeline) -> dict[str, str]:
    """Start date, schedule, key and lookback: what decides which rows a new pipeline loads."""
    lookback = getattr(p.load, "lookback", None)
    out = {
        "start_date": p.start_date.isoformat() + (" (catchup)" if p.catchup else " (no catchup: earlier days need a backfill)"),
        "schedule": schedule_text(p),
    }
    if p.load.mode == "incremental":
        out["cursor"] = p.load.cursor or "none"
        out["key"] = ", ".join(p.load.primary_key) or "none (each interval's rows are appended)"
        out["lookback"] = str(lookback) if lookback else "none (each run reads exactly its interval)"
    return out


def review_line(f: Facts) -> str:
    return "; ".join(f"{k} {v}" for k, v in f.review.items())


@dataclass
class Change:
    aspect: str  # schedule, after, load, source, lake, target, tasks, checks, alerts, settings
    text: str


MODE_CHANGE_NOTES = {
    ("snapshot", "full_refresh"): "; the first full_refresh run replaces the whole table, dropping the snapshot history",
    ("incremental", "full_refresh"): "; the first full_refresh run replaces the whole table with the source's current rows",
    ("snapshot", "incremental"): "; its snapshot_date column and older snapshots stay unless the table is rebuilt",
    ("incremental", "snapshot"): "; snapshot loads add a snapshot_date column: rebuild the table if its shape differs",
    ("full_refresh", "snapshot"): "; snapshot loads add a snapshot_date column: rebuild the table if its shape differs",
}


def compare(old: Facts, new: Facts) -> list[Change]:
    out: list[Change] = []

    def arrow(aspect: str, a: str, b: str, label: str | None = None) -> None:
        if a != b:
            out.append(Change(aspect, f"{label or aspect}: {a} -> {b}"))

    if old.after != new.after:
        added = [u for u in new.after if u not in old.after]
        removed = [u for u in old.after if u not in new.after]
        if old.after and new.after:
            parts = ([f"now also waits for {', '.join(added)}"] if added else []) + (
                [f"no longer waits for {', '.join(removed)}"] if removed else []
            )
            out.append(Change("after", "after: " + "; ".join(parts)))
        else:
            arrow("schedule", old.schedule, new.schedule)
    else:
        arrow("schedule", old.schedule, new.schedule)
    arrow("load", old.load, new.load, "load type")
    old_mode, new_mode = old.load.split(",")[0], new.load.split(",")[0]
    if old_mode != new_mode:
        note = MODE_CHANGE_NOTES.get((old_mode, new_mode), "")
        out.append(Change("load", f"load type change: the existing {new.target} was written by {old_mode} loads{note}"))
    arrow("source", old.source, new.source)
    if old.source == new.source and old.query != new.query:
        out.append(Change("source", f"source: the query text changed ({_lines(old.query)} -> {_lines(new.query)} lines)"))
    arrow("lake", old.lake, new.lake)
    if old.target != new.target:
        out.append(
            Change(
                "target",
                f"target: {old.target} -> {new.target} (the new table is created on the first run; "
                f"{old.target} is no longer loaded, not dropped)",
            )
        )
    added = [t for t in new.tasks if t not in old.tasks]
    removed = [t for t in old.tasks if t not in new.tasks]
    if added or removed:
        parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
        out.append(Change("tasks", "tasks: " + "; ".join(parts)))
    for name, text in new.checks.items():
        if name not in old.checks:
            out.append(Change("checks", f"check added: {name}: {text}"))
        elif old.checks[name] != text:
            out.append(Change("checks", f"check changed: {name}: {old.checks[name]} -> {text}"))
    for name, text in old.checks.items():
        if name not in new.checks:
            out.append(Change("checks", f"check removed: {name}: {text}"))
    for key in new.alerts:
        arrow("alerts", old.alerts.get(key, "none"), new.alerts[key], f"alerts {key}")
    for key in sorted(set(old.settings) | set(new.settings)):
        arrow("settings", old.settings.get(key, "(unset)"), new.settings.get(key, "(unset)"), key)
    return out


def _lines(text: str | None) -> int:
    return len((text or "").strip().splitlines())


def one_line_summary(f: Facts) -> str:
    checks = f", {len(f.checks)} check{'s' if len(f.checks) != 1 else ''}" if f.checks else ""
    return f"{f.load.split(',')[0]} {f.source} -> {f.target}; schedule {f.schedule}; tasks {', '.join(f.tasks)}{checks}"
