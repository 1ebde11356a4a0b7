"""`dag-factory run NAME --date D`: one interval through the engine, no scheduler
(`--from D1 --to D2 [--one-pass]`: a range, cli/run_range.py).

Connections resolve exactly as in Airflow (AIRFLOW_CONN_* variables, secrets
backends, the metadata DB), so what works here works in the DAG.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from dag_factory.cli.common import find_pipeline, pipelines_dir
from dag_factory.config.schedules import interval_for_date
from dag_factory.errors import DagFactoryError


class _Progress:
    """A one-line progress display on a terminal, periodic lines otherwise."""

    def __init__(self, step: str) -> None:
        self.step, self.started, self.last = step, time.monotonic(), 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if self.tty or now - self.last >= 5:
            rate = rows / max(now - self.started, 1e-6)
            end = "\r" if self.tty else "\n"
            print(f"  {self.step}: {rows:>12,} rows  ({rate:,.0f} rows/s)", end=end, file=sys.stderr, flush=True)
            self.last = now

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def use_demo_connections(home: str) -> list[str]:
    """Set the demo's connections (and staging folder) for those not defined already; their ids."""
    import os
    from pathlib import Path

    from dag_factory.cli.demo import demo_environment

    used = []
    for key, value in demo_environment(Path(home).resolve()).items():
        if key.startswith("AIRFLOW_CONN_") or key == "DAG_FACTORY_STAGING":
            if key not in os.environ:
                os.environ[key] = value
                used.append(key.removeprefix("AIRFLOW_CONN_").lower())
    return used


def run_command(
    name: str,
    day: str | None,
    env: str | None,
    pipelines: str | None,
    demo: str | None = None,
    span: tuple[str | None, str | None, bool] = (None, None, False),
) -> int:
    first, last, one_pass = span
    if (day is None) == (first is None and last is None) or (first is None) != (last is None):
        print("dag-factory run: give --date D, or --from D1 --to D2 (a range)", file=sys.stderr)
        return 2
    if one_pass and day is not None:
        print("dag-factory run: --one-pass loads a range: use it with --from/--to", file=sys.stderr)
        return 2
    run_date = None
    if day is not None:
        try:
            run_date = date.fromisoformat(day)
        except ValueError:
            print(f"dag-factory run: --date must be YYYY-MM-DD, got {day!r}", file=sys.stderr)
            return 2
    pipeline = find_pipeline(name, pipelines_dir(pipelines), env)
    if pipeline is None:
        return 1
    if demo is not None:
        from pathlib import Path

        if not (Path(demo) / "shop.db").exists():
            print(f"dag-factory run: no demo in {demo}/ (shop.db missing): run ./demo.sh first", file=sys.stderr)
            return 2
        used = [u for u in use_demo_connections(demo) if u != "dag_factory_staging"]
        print(f"using the demo's connections from {demo}/: {', '.join(used) or 'none (all already defined)'}")
    from dag_factory.airflow.connections import aws_context, redshift_dbapi, resolve, staging_conn
    from dag_factory.airflow.error_text import is_located, located_text
    from dag_factory.engine import wap
    from dag_factory.engine.checks import CheckFailed

    if run_date is None:
        from dag_factory.cli.run_range import range_command

        assert first is not None and last is not None
        return range_command(pipeline, first, last, one_pass, env)
    interval = interval_for_date(pipeline.schedule, pipeline.timezone, run_date)
    print(f"{pipeline.name}: {pipeline.load.mode} load of interval {interval} (ds={interval.ds})")
    try:
        source = None if pipeline.in_warehouse else resolve(pipeline.source.conn_id)
        lake = None if pipeline.in_warehouse else (resolve(pipeline.lake.conn_id) if pipeline.lake else staging_conn())
        started = time.monotonic()
        progress = _Progress("extract")
        result = wap.run_interval(
            pipeline, interval, source, lake, resolve(pipeline.target.conn_id), progress, aws=aws_context, dbapi=redshift_dbapi
        )
        progress.done()
        if result.extracted is not None:
            where = (
                f"lake partition {pipeline.lake.path}/ds={interval.ds}" if pipeline.lake else f"local staging ds={interval.ds}"
            )
            print(f"  extract: {result.extracted:,} rows -> {where}")
        print(f"  stage: {result.staged:,} rows")
        for check in result.checks:
            print(f"  {check.message()}")
        assert result.loaded is not None
        print(
            f"  publish: {pipeline.target.table}: {result.loaded.inserted:,} rows inserted, {result.loaded.deleted:,} replaced/deleted"
        )
        if result.loaded.changes:
            print(f"  schema changes: {result.loaded.summary}")
        print(f"done in {time.monotonic() - started:.1f}s")
    except CheckFailed as failed:
        print(
            f"dag-factory run: {pipeline.name}: {failed}\nnothing was published; {pipeline.target.table} is unchanged",
            file=sys.stderr,
        )
        return 1
    except DagFactoryError as exc:
        text = located_text(exc) if is_located(exc) else f"{pipeline.name}: {exc}"
        print(f"dag-factory run: {text}", file=sys.stderr)
        return 1
    return 0
