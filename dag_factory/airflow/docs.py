"""What the Airflow UI shows about a pipeline: doc_md and the schedule in words."""

from __future__ import annotations

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import cron_of

MODE_LINES = {
    "incremental": "loads the rows whose `{cursor}` lies in the run's interval [start, end) and replaces that interval in the target{merge}",
    "snapshot": "loads the whole source as the day's snapshot (`snapshot_date` column), replacing only that day; history stays",
    "full_refresh": "loads the whole source into a staging table and swaps it in atomically: readers see the old or the new table, never a partial one",
}


def schedule_in_words(schedule: str | None, tz: str) -> str:
    if schedule is None:
        return "manual runs only (no schedule)"
    try:
        from cron_descriptor import get_description

        words = get_description(cron_of(schedule))
    except Exception:  # a description is a nicety; the cron itself is validated by lint
        words = cron_of(schedule)
    return f"{words} ({tz}), each run loading the interval since the previous tick"


def mode_line(pipeline: Pipeline) -> str:
    load = pipeline.load
    merge = f"; rows with the same key ({', '.join(load.primary_key)}) are replaced" if load.primary_key else ""
    return MODE_LINES[load.mode].format(cursor=load.cursor, merge=merge)


def doc_md(pipeline: Pipeline) -> str:
    p = pipeline
    src = p.source.table or "query"
    lake = f" -> lake `{p.lake.conn_id}:{p.lake.path}/ds=YYYY-MM-DD/`" if p.lake else ""
    lines = [
        f"### {p.name}",
        p.description or "",
        "",
        f"**Flow:** `{p.source.conn_id}`.`{src}`{lake} -> `{p.target.conn_id}`.`{p.target.table}`",
        "",
        f"**Load ({p.load.mode}):** {mode_line(p)}.",
        "",
        f"**Schedule:** {schedule_in_words(p.schedule, p.timezone)}. Manual runs without a logical date load the latest complete interval.",
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
    if p.source.query:
        lines += ["", "**Source query:**", "```sql", p.source.query.strip(), "```"]
    return "\n".join(lines)
