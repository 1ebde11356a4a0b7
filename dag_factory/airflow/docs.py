"""What the Airflow UI shows about a pipeline: doc_md and the schedule in words."""

from __future__ import annotations

import json
from functools import lru_cache

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import cron_of

MODE_LINES = {
    "incremental": "loads the rows whose `{cursor}` lies in the run's interval [start, end) and replaces that interval in the target{merge}",
    "snapshot": "loads the whole source as the day's snapshot (`snapshot_date` column), replacing only that day; history stays",
    "full_refresh": "loads the whole source into a staging table and swaps it in atomically: readers see the old or the new table, never a partial one",
}


@lru_cache(maxsize=256)
def _cron_words(expr: str) -> str:
    try:
        from cron_descriptor import get_description

        return get_description(expr)
    except Exception:  # a description is a nicety; the cron itself is validated by lint
        return expr


def schedule_in_words(schedule: str | None, tz: str, after: tuple[str, ...] = ()) -> str:
    if after:
        return f"after {' and '.join(after)} have loaded new data (asset-triggered)"
    if schedule is None:
        return "manual runs only (no schedule)"
    words = _cron_words(cron_of(schedule))
    return f"{words} ({tz}), each run loading the interval since the previous tick"


def mode_line(pipeline: Pipeline) -> str:
    load = pipeline.load
    merge = f"; rows with the same key ({', '.join(load.primary_key)}) are replaced" if load.primary_key else ""
    return MODE_LINES[load.mode].format(cursor=load.cursor, merge=merge)


def _alert_line(channels) -> str:
    return ", ".join(f"{c.kind} `{c.conn_id}`" if c.conn_id else f"email {', '.join(c.addresses)}" for c in channels)


def doc_md(pipeline: Pipeline) -> str:
    p = pipeline
    src = p.source.label
    lake = f" -> lake `{p.lake.conn_id}:{p.lake.path}/ds=YYYY-MM-DD/`" if p.lake else ""
    if p.in_warehouse:
        lake = " (runs inside the warehouse)"
    lines = [
        f"### {p.name}",
        p.description or "",
        "",
        f"**Flow:** `{p.source.conn_id}`.`{src}`{lake} -> `{p.target.conn_id}`.`{p.target.table}`",
        "",
        f"**Load ({p.load.mode}):** {mode_line(p)}.",
        "",
        f"**Schedule:** {schedule_in_words(p.schedule, p.timezone, p.after)}. Runs without a logical date load the latest complete interval.",
        "",
        f"**Defined in:** `{p.path}` (environment `{p.env}`). Edit the YAML, not this DAG.",
        "",
        "| setting | value |",
        "|---|---|",
        f"| owner | {p.owner} |",
        f"| start_date | {p.start_date.isoformat()} |",
        f"| catchup | {p.catchup} |",
        f"| max_active_runs | {p.max_active_runs} |",
        f"| retries | {p.retries} every {p.retry_delay} |",
        f"| timeout | {p.timeout} |",
    ]
    if p.checks:
        lines += ["", "**Checks** (on the staged rows, before publishing; a failure publishes nothing):"]
        lines += [f"- `{c.name}`: {c.describe()}" for c in p.checks]
    if p.alerts.on_failure or p.alerts.on_success or p.alerts.deadline:
        lines += ["", "**Alerts:**"]
        if p.alerts.on_failure:
            lines.append(f"- on failure: {_alert_line(p.alerts.on_failure)}")
        if p.alerts.on_success:
            lines.append(f"- on success: {_alert_line(p.alerts.on_success)}")
        if p.alerts.deadline:
            lines.append(f"- deadline: {p.alerts.deadline} after the run is queued")
    query = getattr(p.source, "query", None)  # sql sources only
    if query:
        lines += ["", "**Source query:**", "```sql", query.strip(), "```"]
    # one key per line, each value by the C JSON encoder: readable, and cheap at parse time
    resolved = [f"{key}: {json.dumps(value, default=str)}" for key, value in p.resolved.items()]
    lines += ["", f"<details><summary>Resolved config ({p.env})</summary>", "", "```", *resolved, "```", "</details>"]
    return "\n".join(lines)
