"""`dag-factory run NAME --from D1 --to D2 [--one-pass]`: a range of intervals, no scheduler.

Day by day, the intervals run in order, each like `run --date`; the first failure stops the
range and names the command that resumes it. `--one-pass` (incremental only) extracts the
whole range with one query and replaces exactly that range: the initial load of years of rows
without one run per day (engine/ranges.py; the same warehouse as the daily runs).
"""

from __future__ import annotations

import sys
import time
from datetime import date

from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import Interval, intervals_between
from dag_factory.errors import DagFactoryError


def _parse(flag: str, value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        print(f"dag-factory run: {flag} must be YYYY-MM-DD, got {value!r}", file=sys.stderr)
        return None


def range_command(pipeline: Pipeline, first_text: str, last_text: str, one_pass: bool, env: str | None) -> int:
    first, last = _parse("--from", first_text), _parse("--to", last_text)
    if first is None or last is None:
        return 2
    if last < first:
        print(f"dag-factory run: --to {last} is before --from {first}", file=sys.stderr)
        return 2
    from dag_factory.airflow.connections import aws_context, redshift_dbapi, resolve, staging_conn
    from dag_factory.airflow.error_text import is_located, located_text
    from dag_factory.engine import wap
    from dag_factory.engine.checks import CheckFailed
    from dag_factory.engine.ranges import one_pass_interval, one_pass_pipeline
    from dag_factory.engine.runner import warehouse_capabilities

    intervals = intervals_between(pipeline.schedule, pipeline.timezone, first, last)
    env_flag = f" --env {env}" if env else ""
    try:
        source = None if pipeline.in_warehouse else resolve(pipeline.source.conn_id)
        lake = None if pipeline.in_warehouse else (resolve(pipeline.lake.conn_id) if pipeline.lake else staging_conn())
        warehouse = resolve(pipeline.target.conn_id)
        if one_pass:
            p = one_pass_pipeline(pipeline, warehouse_capabilities(warehouse))
            runs: list[tuple[Pipeline, Interval]] = [(p, one_pass_interval(intervals))]
            print(f"{pipeline.name}: {pipeline.load.mode} load of {len(intervals)} intervals in one pass: {runs[0][1]}")
        else:
            runs = [(pipeline, iv) for iv in intervals]
            print(f"{pipeline.name}: {pipeline.load.mode} load of {len(intervals)} intervals, {first} to {last}, in order")
    except DagFactoryError as exc:
        print(f"dag-factory run: {pipeline.name}: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    total = 0
    for i, (p, iv) in enumerate(runs, start=1):
        t0 = time.monotonic()
        try:
            result = wap.run_interval(p, iv, source, lake, warehouse, aws=aws_context, dbapi=redshift_dbapi)
        except (CheckFailed, DagFactoryError) as exc:
            text = located_text(exc) if is_located(exc) else f"{pipeline.name}: {exc}"
            done = f"the {i - 1} intervals before it are loaded; " if i > 1 else ""
            resume = f"--from {iv.ds} --to {last}" + (" --one-pass" if one_pass else "")
            print(
                f"dag-factory run: interval {iv} (ds={iv.ds}) failed: {text}\n"
                f"{done}nothing of this one was published. Fix it, then resume with:\n"
                f"  dag-factory run {pipeline.name} {resume}{env_flag}",
                file=sys.stderr,
            )
            return 1
        assert result.loaded is not None
        total += result.loaded.inserted
        extracted = "" if result.extracted is None else f"{result.extracted:,} extracted, "
        print(
            f"  [{i}/{len(runs)}] ds={iv.ds}: {extracted}{result.loaded.inserted:,} inserted, "
            f"{result.loaded.deleted:,} replaced/deleted ({time.monotonic() - t0:.1f}s)",
            flush=True,
        )
    print(f"done: {len(intervals)} intervals, {total:,} rows inserted in {time.monotonic() - started:.1f}s")
    return 0
