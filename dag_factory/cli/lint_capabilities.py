"""Lint checks each environment's resolved pipeline against what its warehouse and lake can do.

A pipeline without an S3 lake lints clean and fails on its first prod run when prod's target is
Redshift ("a Redshift target loads from the S3 lake with COPY"). What each warehouse can do is
the engine's own declaration (engine/warehouses/capabilities.py), asked here, never copied;
what each connection id is per environment comes from `_connections.yaml` (or, when lint runs
beside them, from AIRFLOW_CONN_* variables).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from dag_factory.config.connections_file import Declared
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import interval_for_date
from dag_factory.config.yaml_loader import VALUE, KeyPath, Mark, nearest_mark
from dag_factory.engine.connections import KINDS
from dag_factory.engine.warehouses.capabilities import Capabilities, capabilities_for
from dag_factory.errors import ConnectionConfigError, Problem


def connection_kind(conn_id: str, env: str, declared: Declared) -> str | None:
    """The engine kind of a connection id in `env`: declared in _connections.yaml, else from
    an AIRFLOW_CONN_* variable lint can see; None when nothing says."""
    conn_type = declared.conn_type(conn_id, env)
    if conn_type is None:
        raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip()
        if raw.startswith("{"):
            try:
                conn_type = str(json.loads(raw).get("conn_type") or "") or None
            except (ValueError, AttributeError):
                conn_type = None
        elif "://" in raw:
            conn_type = raw.split("://", 1)[0].replace("-", "_")
    return KINDS.get(conn_type.lower(), conn_type.lower()) if conn_type else None


def capability_problems(p: Pipeline, marks: dict[KeyPath, Mark], env: str, declared: Declared) -> list[Problem]:
    out: list[Problem] = []

    def add(path: KeyPath, message: str, hint: str) -> None:
        m = nearest_mark(marks, path) or Mark(p.path, 1, 1)
        out.append(
            Problem(
                m.file,
                m.line,
                m.column,
                f"{message} (in environment {env!r})",
                ".".join(str(k) for k in path if k != VALUE),
                hint,
            )
        )

    target_kind = connection_kind(p.target.conn_id, env, declared)
    if target_kind is None:
        return out
    try:
        caps = capabilities_for(target_kind)
    except ConnectionConfigError as exc:
        add(("target", "conn_id", VALUE), f"target {p.target.conn_id!r} is a {target_kind} connection: {exc}", "")
        return out
    where = _where(marks, ("target", "conn_id", VALUE), p.path)
    lake_kind = connection_kind(p.lake.conn_id, env, declared) if p.lake else None
    _warehouse_rules(p, marks, caps, where, lake_kind, add)
    if declared.distributed(env) and not p.in_warehouse:
        _distributed_rules(p, marks, caps, lake_kind, add)
    return out


def _a(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _fix_at(p: Pipeline, marks: dict[KeyPath, Mark]) -> KeyPath:
    """Where a missing lake is added: the pipeline's own environments.<env> block, else its name."""
    block = ("environments", p.env)
    m = marks.get(block)
    return block if m is not None and m.file == p.path else ("name",)


def _where(marks: dict[KeyPath, Mark], path: KeyPath, default: str) -> str:
    m = nearest_mark(marks, path)
    return f"{m.file}:{m.line}" if m else default


def _warehouse_rules(
    p: Pipeline,
    marks: dict[KeyPath, Mark],
    caps: Capabilities,
    where: str,
    lake_kind: str | None,
    add: Callable[[KeyPath, str, str], None],
) -> None:
    name = f"{_a(caps.name)} target {p.target.conn_id!r} (set at {where})"
    if p.in_warehouse:
        if not caps.runs_queries:
            add(("source", "conn_id", VALUE), f"{name} cannot run a query inside it (a transform)", "")
        return
    if p.load.mode not in caps.load_modes:
        add(("load", "mode", VALUE), f"{name} cannot load mode {p.load.mode}", "")
    from_s3 = "stream" not in caps.loads_from and "s3_partition" in caps.loads_from
    if from_s3 and p.lake is None:
        add(
            _fix_at(p, marks),
            f"{name} loads from the S3 lake (COPY / a registered partition), and this pipeline has no lake",
            f"add lake: {{conn_id: <an aws connection>, path: raw/...}} under environments.{p.env}",
        )
    elif from_s3 and p.lake is not None and lake_kind not in (None, "aws"):
        add(
            ("lake", "conn_id", VALUE),
            f"lake {p.lake.conn_id!r} has connection type {lake_kind}, and {name} reads the lake from S3",
            "point the lake at an aws (S3) connection in this environment",
        )
    if p.checks and not caps.runs_checks:
        add(
            ("checks",),
            f"checks need a staging table to query, which {name} does not have",
            "remove the checks for this environment, or load into a warehouse that stages (PostgreSQL, Redshift, DuckDB)",
        )
    if p.load.mode == "incremental" and p.load.primary_key and not caps.merges:
        add(
            ("load", "primary_key"),
            f"{name} cannot merge by key (that needs Iceberg's MERGE INTO)",
            "drop primary_key: each run then replaces its own interval's partition",
        )
    if p.load.lookback and caps.publishes_from_lake:
        add(
            ("load", "lookback"),
            f"{name} keeps one lake partition per interval, so a lookback's re-read rows would sit in two",
            "drop lookback for this environment (or load into a warehouse that replaces the widened window)",
        )
    if p.load.mode == "incremental" and caps.min_incremental_interval and p.schedule:
        interval = interval_for_date(p.schedule, p.timezone, p.start_date)
        if interval.end - interval.start < caps.min_incremental_interval:
            add(
                ("schedule", VALUE),
                f"{name} keeps one partition per day, and this schedule's intervals are {interval.end - interval.start}",
                "schedule it daily (@daily or a daily cron) in this environment",
            )


def _distributed_rules(
    p: Pipeline, marks: dict[KeyPath, Mark], caps: Capabilities, lake_kind: str | None, add: Callable[[KeyPath, str, str], None]
) -> None:
    if caps.kind == "duckdb":
        add(
            ("target", "conn_id", VALUE),
            f"target {p.target.conn_id!r} is a DuckDB file, and workers are distributed here: each worker would write "
            "its own copy (DuckDB has one writer on one machine)",
            "use PostgreSQL or Redshift as this environment's warehouse",
        )
    if p.lake is None and ("stream" in caps.loads_from or "s3_partition" not in caps.loads_from):
        add(
            _fix_at(p, marks),
            "workers are distributed here, and without a lake the extracted rows stay on the worker that extracted them",
            f"add lake: {{conn_id: <an aws connection>, path: raw/...}} under environments.{p.env}",
        )
    elif p.lake is not None and lake_kind == "fs":
        add(
            ("lake", "conn_id", VALUE),
            f"lake {p.lake.conn_id!r} is a local folder (fs), and workers are distributed here",
            "use an S3 (aws) lake, or a folder every worker mounts",
        )
