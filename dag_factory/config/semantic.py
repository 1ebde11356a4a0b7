"""Checks a JSON schema cannot express: name vs file, cron, time zone, mode rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dag_factory.config.schedules import PRESETS, cron_problem, timezone_problem
from dag_factory.config.secrets import secret_problems
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
            add(("schedule",), problem, _schedule_hint(schedule))

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
        _source_problems(source, add)  # per-type keys (sql / http / file)
        target = data.get("target")
        if (
            source.get("type", "sql") == "sql"
            and isinstance(target, dict)
            and source.get("conn_id") == target.get("conn_id")
            and data.get("lake")
        ):
            add(
                ("lake",),
                at_value=False,
                message="source and target share a connection, so the query runs inside the warehouse and no lake is written; remove 'lake'",
            )
        if (
            source.get("type", "sql") == "sql"
            and isinstance(target, dict)
            and source.get("conn_id") == target.get("conn_id")
            and "parallel" in source
        ):
            add(
                ("source", "parallel"),
                at_value=False,
                message="source and target share a connection, so the query runs inside the warehouse and nothing is extracted; remove 'parallel'",
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
        _load_option_problems(load, mode, add)
    out.extend(secret_problems(data, marks, display))  # credentials typed into YAML (config/secrets.py)
    return sorted(out, key=lambda p: (p.file, p.line, p.column))


def _schedule_hint(schedule: str) -> str:
    """`schedule: daily` means @daily; `every day` or `@daly` get the closest preset."""
    import difflib

    word = schedule.strip().lower().lstrip("@")
    word = {"day": "daily", "hour": "hourly", "week": "weekly", "month": "monthly", "year": "yearly"}.get(word, word)
    close = difflib.get_close_matches("@" + word, PRESETS, n=1, cutoff=0.6)
    if close:
        return f'did you mean {close[0]}? Write it quoted: schedule: "{close[0]}"'
    return ""


# source keys that only one source type takes (type, conn_id and batch_size apply to all)
_SOURCE_KEYS = {
    "sql": ("table", "query", "query_file", "columns", "parallel"),
    "http": ("endpoint", "method", "params", "records_path", "pagination"),
    "file": ("path", "format", "wait"),
}
_PAGINATION_KEYS = {
    "page_number": ("page_param", "start_page", "size_param", "page_size"),
    "cursor": ("cursor_param", "cursor_path"),
    "next_link": ("next_link_path",),
}
_TEMPLATE_NAMES = {"ds", "ds_nodash", "data_interval_start", "data_interval_end"}


def _template_problem(text: str) -> str | None:
    """Why a Jinja template (http params, file path) cannot render, or None."""
    if "{" not in text:
        return None
    from jinja2 import TemplateSyntaxError, meta
    from jinja2.sandbox import SandboxedEnvironment

    try:
        names = meta.find_undeclared_variables(SandboxedEnvironment().parse(text))
    except TemplateSyntaxError as exc:
        return f"template error: {exc.message}"
    unknown = sorted(names - _TEMPLATE_NAMES)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(_TEMPLATE_NAMES), n=1, cutoff=0.6)
        mean = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown template variable {unknown[0]!r} (available: {', '.join(sorted(_TEMPLATE_NAMES))}){mean}"
    return None


def _source_problems(source: dict[str, Any], add: Any) -> None:
    kind = source.get("type")
    if not isinstance(kind, str) or kind not in _SOURCE_KEYS:  # `type: []` is unhashable
        return  # the schema reports an unknown type
    for other, keys in _SOURCE_KEYS.items():
        for key in keys:
            if other != kind and key in source:
                add(
                    ("source", key),
                    at_value=False,
                    message=f"'{key}' only applies to type: {other} (this source is type: {kind})",
                )
    fields = source.get("fields")
    for name, declared in fields.items() if isinstance(fields, dict) else ():
        m = re.match(r"^decimal\((\d+),\s*(\d+)\)$", declared) if isinstance(declared, str) else None
        if m and not (1 <= int(m.group(1)) <= 38 and int(m.group(2)) <= int(m.group(1))):
            add(("source", "fields", name), f"{declared!r}: precision must be 1-38 and scale at most the precision")
    if "fields" in source and kind == "sql":
        add(("source", "fields"), at_value=False, message="'fields' only applies to type: http and type: file")
    if kind == "sql":
        given = [k for k in ("table", "query", "query_file") if k in source]
        if len(given) != 1:
            add(
                ("source",),
                at_value=False,
                message=f"source needs exactly one of 'table', 'query' or 'query_file' (got {', '.join(given) or 'none'})",
            )
        if "columns" in source and "table" not in source:
            add(("source", "columns"), "'columns' only applies to 'table'; select the columns in the query")
    elif kind == "http":
        if "endpoint" not in source:
            add(("source",), at_value=False, message="type: http needs 'endpoint' (the path under the connection's URL)")
        params = source.get("params")
        for name, value in params.items() if isinstance(params, dict) else ():
            problem = _template_problem(value) if isinstance(value, str) else None
            if problem:
                add(("source", "params", name), f"params.{name}: {problem}")
        pagination = source.get("pagination")
        if isinstance(pagination, dict) and isinstance(pagination.get("type"), str):
            style = pagination["type"]
            for other, keys in _PAGINATION_KEYS.items():
                for key in keys:
                    if other != style and key in pagination:
                        add(
                            ("source", "pagination", key),
                            at_value=False,
                            message=f"'{key}' only applies to pagination type: {other} (this one is {style})",
                        )
            if style == "cursor" and "cursor_path" not in pagination:
                add(
                    ("source", "pagination"),
                    at_value=False,
                    message="pagination type: cursor needs 'cursor_path' (where the next token is in the body)",
                )
    elif kind == "file":
        missing = [k for k in ("path", "format") if k not in source]
        if missing:
            add(("source",), at_value=False, message=f"type: file needs 'path' and 'format' (missing: {', '.join(missing)})")
        if isinstance(source.get("path"), str):
            problem = _template_problem(source["path"])
            if problem:
                add(("source", "path"), f"path: {problem}")
        if "fields" in source and source.get("format") == "parquet":
            add(
                ("source", "fields"), at_value=False, message="'fields' applies to csv and jsonl; Parquet files carry their types"
            )


def _load_option_problems(load: dict[str, Any], mode: object, add: Any) -> None:
    """lookback, hard_delete and history's keys: each only means something with the right mode and key."""
    if "lookback" in load and mode != "incremental":
        add(
            ("load", "lookback"),
            at_value=False,
            message=f"'lookback' only applies to mode: incremental (this load is {mode}): it widens the interval a run re-reads",
            hint="remove lookback, or use mode: incremental with a cursor",
        )
    if "hard_delete" in load:
        if mode != "incremental":
            add(
                ("load", "hard_delete"),
                at_value=False,
                message=f"'hard_delete' only applies to mode: incremental with primary_key (this load is {mode})",
                hint="remove hard_delete (history closes the version of a key gone from the source by itself)"
                if mode == "history"
                else "remove hard_delete, or use mode: incremental with primary_key",
            )
        elif "primary_key" not in load:
            add(
                ("load", "hard_delete"),
                at_value=False,
                message="'hard_delete' needs 'primary_key': a deleted row removes its key from the target",
                hint="add primary_key: [id], the column(s) identifying a source row",
            )
    if mode == "history":
        if "primary_key" not in load:
            add(
                ("load",),
                at_value=False,
                message="mode: history needs 'primary_key': the column(s) that identify a row across days",
                hint="add primary_key: [id]",
            )
        if "cursor" in load:
            add(
                ("load", "cursor"),
                at_value=False,
                message="'cursor' does not apply to mode: history (every run reads the whole source)",
            )
        compare, key = load.get("compare"), load.get("primary_key")
        if isinstance(compare, list) and isinstance(key, list) and set(compare) & set(key):
            add(
                ("load", "compare"),
                at_value=False,
                message="'compare' lists key columns; list only the columns whose change opens a version",
            )
    elif "compare" in load:
        add(("load", "compare"), at_value=False, message=f"'compare' only applies to mode: history (this load is {mode})")
