"""A pipeline in words: task ids, tags, flow, load mode, schedule, alerts, checks.

The one place these texts are made, so the DAG's own tags, task ids and docs (built in the
airflow layer) and what `show`, `diff` and `docs` print without Airflow cannot drift apart.
Imports no Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from dag_factory.config.model import AlertChannel, FileSource, Pipeline, SqlSource
from dag_factory.config.schedules import cron_of

MODE_LINES = {
    "incremental": "loads the rows whose `{cursor}` lies in the run's interval [start, end) and replaces that interval in the target{merge}",
    "snapshot": "loads the whole source as the day's snapshot (`snapshot_date` column), replacing only that day; history stays",
    "full_refresh": "loads the whole source into a staging table and swaps it in atomically: readers see the old or the new table, never a partial one",
    "history": "loads the whole source each run and keeps one row per version of each key ({key}) with valid_from, valid_to and is_current",
}


@lru_cache(maxsize=256)
def cron_words(expr: str) -> str:
    """`0 3 * * *` -> "At 03:00 AM"; the cron itself when it cannot be put in words
    (cron_descriptor is optional, and lint validates the cron, not this)."""
    try:
        from cron_descriptor import get_description
        from cron_descriptor.Exception import FormatException, MissingFieldException, WrongArgumentException
    except ImportError:
        return expr
    try:
        return get_description(expr)
    except (FormatException, MissingFieldException, WrongArgumentException, IndexError, ValueError):
        return expr


def schedule_text(p: Pipeline) -> str:
    """The schedule in one short line (diff, docs catalog)."""
    if p.after:
        return f"after {', '.join(p.after)} (asset-triggered)"
    if p.schedule is None:
        return "manual runs only"
    return f"{p.schedule} ({cron_words(cron_of(p.schedule))}, {p.timezone})"


def schedule_in_words(schedule: str | None, tz: str, after: Iterable[str] = ()) -> str:
    """The schedule as a sentence (the DAG's doc_md)."""
    after = tuple(after)
    if after:
        return f"after {' and '.join(after)} have loaded new data (asset-triggered)"
    if schedule is None:
        return "manual runs only (no schedule)"
    return f"{cron_words(cron_of(schedule))} ({tz}), each run loading the interval since the previous tick"


def source_text(p: Pipeline) -> str:
    s = p.source
    prefix = "" if s.type == "sql" else f"{s.type} "
    if isinstance(s, SqlSource):
        if s.table:
            return f"{s.conn_id}.{s.table}" + (f" (columns {', '.join(s.columns)})" if s.columns else "")
        if s.query_file:
            return f"{s.conn_id}: query file {s.query_file}"
        if s.query:
            return f"{s.conn_id}: inline query"
    label = s.label  # http: the endpoint, file: the path glob
    return f"{prefix}{s.conn_id}: {label}" if label else f"{prefix}{s.conn_id}"


def source_query(p: Pipeline) -> str | None:
    """The SQL a sql source runs (None for http and file sources)."""
    return p.source.query if isinstance(p.source, SqlSource) else None


def source_table(p: Pipeline) -> str | None:
    """The table a sql source reads (None for a query, http and file sources)."""
    return p.source.table if isinstance(p.source, SqlSource) else None


def source_query_file(p: Pipeline) -> str | None:
    """Where a sql source's query came from (relative to the pipelines root), if a file."""
    return p.source.query_file if isinstance(p.source, SqlSource) else None


def load_text(p: Pipeline) -> str:
    load = p.load
    parts: list[str] = [load.mode]
    if load.cursor:
        parts.append(f"cursor {load.cursor}")
    if load.primary_key:
        parts.append(f"key ({', '.join(load.primary_key)})")
    if load.lookback:
        parts.append(f"lookback {load.lookback}")
    if load.hard_delete:
        parts.append(f"hard_delete {load.hard_delete}")
    return ", ".join(parts)


def mode_line(p: Pipeline) -> str:
    """What the load mode does to the target, as a sentence."""
    load = p.load
    merge = f"; rows with the same key ({', '.join(load.primary_key)}) are replaced" if load.primary_key else ""
    if load.hard_delete:
        merge += f"; a row with `{load.hard_delete}` set removes its key"
    line = MODE_LINES[load.mode].format(cursor=load.cursor, merge=merge, key=", ".join(load.primary_key))
    if load.lookback:
        line += f"; each run also re-reads the {load.lookback} before its interval, for rows committed late"
    return line


def lake_text(p: Pipeline) -> str:
    if p.in_warehouse:
        return "none (runs inside the warehouse)"
    return f"{p.lake.conn_id}:{p.lake.path}" if p.lake else "none (local staging)"


def lake_label(p: Pipeline) -> str:
    """Where extracted rows land, as the task names say it."""
    return f"lake {p.lake.path}" if p.lake else "local staging"


def staged_from(p: Pipeline) -> str:
    """Where the stage step reads: never "the lake" for a pipeline without one."""
    if p.in_warehouse:
        return "inside the warehouse"
    return "from the lake" if p.lake else "from local staging"


def target_text(p: Pipeline) -> str:
    return f"{p.target.conn_id}.{p.target.table}"


def waits_for_files(p: Pipeline) -> bool:
    """A file source with `wait:` gets a sensor task before its extract."""
    return isinstance(p.source, FileSource) and p.source.wait is not None


def task_ids(p: Pipeline) -> list[str]:
    """The task ids dag_factory.airflow.builder creates, in flow order (a parallel extract's
    `extract.to_lake` is one mapped task with `parts` instances)."""
    ids = []
    if not p.in_warehouse:
        if waits_for_files(p):
            ids.append("extract.wait_for_files")
        if isinstance(p.source, SqlSource) and p.source.parallel:  # plan, N mapped parts, commit
            return [*ids, "extract.plan", "extract.to_lake", "extract.commit", *_load_ids(p)]
        ids.append("extract.to_lake")
    return [*ids, *_load_ids(p)]


def _load_ids(p: Pipeline) -> list[str]:
    return ["load.stage", *(f"load.checks.{c.name}" for c in p.checks), "load.publish"]


def parallel_text(p: Pipeline) -> str | None:
    """`4 parts by id` for a parallel extract (the mapped task's name), else None."""
    s = p.source
    return f"{s.parallel.parts} parts by {s.parallel.column}" if isinstance(s, SqlSource) and s.parallel else None


def dag_tags(p: Pipeline) -> list[str]:
    """The DAG's tags: load mode, source and target connections, then the pipeline's own."""
    base = [p.load.mode, f"source:{p.source.conn_id}", f"target:{p.target.conn_id}"]
    if p.in_warehouse:
        base.append("transform")
    return list(dict.fromkeys(base + list(p.tags)))


def channel_text(c: AlertChannel, code: bool = False) -> str:
    """`slack alerts_conn` or `email a@x, b@y` (`code`: the connection id in backticks)."""
    if c.conn_id:
        return f"{c.kind} `{c.conn_id}`" if code else f"{c.kind} {c.conn_id}"
    return f"email {', '.join(c.addresses)}"


def alert_facts(p: Pipeline) -> dict[str, str]:
    a = p.alerts
    return {
        "on failure": ", ".join(map(channel_text, a.on_failure)) or "none",
        "on success": ", ".join(map(channel_text, a.on_success)) or "none",
        "deadline": str(a.deadline) if a.deadline else "none",
    }


def check_facts(p: Pipeline) -> dict[str, str]:
    """Task id -> what the check asserts (and its SQL, whitespace folded)."""
    return {f"load.checks.{c.name}": c.describe() + (f" [{' '.join(c.sql.split())}]" if c.sql else "") for c in p.checks}
