"""Loading a range of intervals: day by day, or an incremental range in one pass.

One pass extracts [first start - lookback, last end) with one query and publishes it as one
interval: the same rows leave and enter the target as the day-by-day runs in order would
(docs/load-types.md, "Loading a range"). Its extract lands beside the daily partitions, under
`<lake path>/_one_pass/`, so a daily re-run never mistakes it for one day's partition.
"""

from __future__ import annotations

from dataclasses import replace

from dag_factory.config.model import Lake, Pipeline
from dag_factory.config.schedules import Interval
from dag_factory.engine.runner import lake_path
from dag_factory.engine.warehouses.capabilities import Capabilities
from dag_factory.errors import EngineError

ONE_PASS_FOLDER = "_one_pass"


def one_pass_interval(intervals: list[Interval]) -> Interval:
    """The whole range as one interval, named (ds) by its first."""
    if not intervals:
        raise EngineError("an empty range: nothing to load")
    return Interval(intervals[0].start, intervals[-1].end, intervals[0].tz)


def one_pass_pipeline(pipeline: Pipeline, caps: Capabilities) -> Pipeline:
    """The pipeline as a one-pass run uses it: its extract in its own lake folder. Only
    incremental loads replace a range (the whole-table modes describe one day each), and only
    into a warehouse that replaces rows itself (Athena maps one partition to one ds)."""
    if pipeline.load.mode != "incremental":
        raise EngineError(
            f"pipeline {pipeline.name}: --one-pass needs mode: incremental (this load is {pipeline.load.mode}); "
            "run the range day by day instead (leave out --one-pass)"
        )
    if caps.publishes_from_lake:
        raise EngineError(
            f"pipeline {pipeline.name}: a {caps.name} target keeps one lake partition per day; run the range day by day"
        )
    if pipeline.in_warehouse:
        return pipeline
    conn_id = pipeline.lake.conn_id if pipeline.lake else "_staging"
    return replace(pipeline, lake=Lake(conn_id, f"{lake_path(pipeline)}/{ONE_PASS_FOLDER}"))
