"""What the Airflow UI shows about a pipeline (doc_md), from config.describe's texts."""

from __future__ import annotations

import json
import re

from dag_factory.config.describe import mode_line, schedule_in_words, source_query
from dag_factory.config.model import AlertChannel, Pipeline

__all__ = ["code", "doc_md", "fenced", "md", "mode_line", "schedule_in_words"]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BLOCK_START = re.compile(r"^(\d*)([#>+=.)-])")
_BACKTICKS = re.compile("`+")
_BLOCK_FIRST = frozenset("0123456789#>+=.)-")
# json.dumps(value, default=str) builds a new encoder per call; one encoder serves every value
_JSON = json.JSONEncoder(default=str).encode


def md(text: object) -> str:
    """A YAML value as literal Markdown text: `shop_db.customers_x` must not turn into emphasis,
    `<b>` must not become HTML, `|` must not split a table cell, a leading `#` is no heading."""
    value = " ".join(str(text).split())
    if _MD_SPECIAL.search(value):
        value = _MD_SPECIAL.sub(r"\\\1", value)
    return _BLOCK_START.sub(r"\1\\\2", value) if value[:1] in _BLOCK_FIRST else value


def code(text: object) -> str:
    """A YAML value as inline code, with a fence longer than any backtick run inside it."""
    value = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in _BACKTICKS.findall(value)), default=0) + 1) if "`" in value else "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def fenced(text: str, info: str = "") -> list[str]:
    """A code block whose fence no line of `text` can close."""
    fence = "`" * max(3, max((len(r) + 1 for r in re.findall("`{3,}", text)), default=3))
    return [f"{fence}{info}", text, fence]


def _alert_line(channels: tuple[AlertChannel, ...]) -> str:
    return ", ".join(f"{c.kind} {code(c.conn_id)}" if c.conn_id else f"email {md(', '.join(c.addresses))}" for c in channels)


def doc_md(pipeline: Pipeline) -> str:
    p = pipeline
    src = p.source.label
    lake = f" -> lake {code(f'{p.lake.conn_id}:{p.lake.path}/ds=YYYY-MM-DD/')}" if p.lake else ""
    if p.in_warehouse:
        lake = " (runs inside the warehouse)"
    lines = [
        f"### {md(p.name)}",
        md(p.description or ""),
        "",
        f"**Flow:** {code(p.source.conn_id)}.{code(src)}{lake} -> {code(p.target.conn_id)}.{code(p.target.table)}",
        "",
        f"**Load ({md(p.load.mode)}):** {md(mode_line(p))}.",
        "",
        f"**Schedule:** {md(schedule_in_words(p.schedule, p.timezone, p.after))}. Runs without a logical date load the latest complete interval.",
        "",
        f"**Defined in:** {code(p.path)} (environment {code(p.env)}). Edit the YAML, not this DAG.",
        "",
        "| setting | value |",
        "|---|---|",
        f"| owner | {md(p.owner)} |",
        f"| start_date | {p.start_date.isoformat()} |",
        f"| catchup | {p.catchup} |",
        f"| max_active_runs | {p.max_active_runs} |",
        f"| retries | {p.retries} every {p.retry_delay} |",
        f"| timeout | {p.timeout} |",
    ]
    if p.checks:
        lines += ["", "**Checks** (on the staged rows, before publishing; a failure publishes nothing):"]
        lines += [f"- {code(c.name)}: {md(c.describe())}" for c in p.checks]
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
        lines += ["", "**Source query:**", *fenced(query.strip(), "sql")]
    # one key per line, each value by the C JSON encoder: readable, and cheap at parse time
    resolved = [f"{key}: {_JSON(value)}" for key, value in p.resolved.items()]
    body = "\n".join(resolved)
    lines += ["", f"<details><summary>Resolved config ({md(p.env)})</summary>", "", *fenced(body), "</details>"]
    return "\n".join(lines)
