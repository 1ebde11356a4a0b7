"""What the Airflow UI shows about a pipeline (doc_md), from config.describe's texts."""

from __future__ import annotations

import json

from dag_factory.config.describe import channel_text, mode_line, schedule_in_words, source_query
from dag_factory.config.model import AlertChannel, Pipeline

__all__ = ["doc_md", "mode_line", "schedule_in_words"]


def _alert_line(channels: tuple[AlertChannel, ...]) -> str:
    return ", ".join(channel_text(c, code=True) for c in channels)


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
    query = source_query(p)
    if query:
        lines += ["", "**Source query:**", "```sql", query.strip(), "```"]
    # one key per line, each value by the C JSON encoder: readable, and cheap at parse time
    resolved = [f"{key}: {json.dumps(value, default=str)}" for key, value in p.resolved.items()]
    lines += ["", f"<details><summary>Resolved config ({p.env})</summary>", "", "```", *resolved, "```", "</details>"]
    return "\n".join(lines)
