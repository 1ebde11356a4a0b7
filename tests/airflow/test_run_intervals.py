"""Which interval a run loads when Airflow gives it no logical date: a manual trigger with
`logical_date: null` (or `airflow dags trigger` without -l) and an asset-triggered run (an
`after:` pipeline). Such runs have no data_interval_* in their context; the operators load
the latest complete interval before the run's `run_after`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow.models.dagrun import DagRun

from dag_factory.airflow.operators import interval_from_context
from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def pipelines():
    result = load_pipelines(REPO / "pipelines")
    assert not result.errors, result.problems
    return result.pipelines


def _no_logical_date(run_after: datetime, run_type: str) -> dict:
    """The context of such a run: a real DagRun, and no data interval keys at all."""
    run = DagRun(dag_id="x", run_id=f"{run_type}__x", run_after=run_after, logical_date=None, run_type=run_type)
    return {"dag_run": run}


def test_manual_run_of_a_scheduled_pipeline_loads_the_last_complete_cron_interval(pipelines):
    orders = pipelines["shop_orders"]  # "0 3 * * *", UTC
    at = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
    interval = interval_from_context(_no_logical_date(at, "manual"), orders)
    assert (interval.start, interval.end) == (datetime(2024, 3, 4, 3, tzinfo=UTC), datetime(2024, 3, 5, 3, tzinfo=UTC))
    before_tick = interval_from_context(_no_logical_date(datetime(2024, 3, 5, 2, 59, tzinfo=UTC), "manual"), orders)
    assert before_tick.end == datetime(2024, 3, 4, 3, tzinfo=UTC)  # today's 03:00 interval is not complete yet
    on_tick = interval_from_context(_no_logical_date(datetime(2024, 3, 5, 3, tzinfo=UTC), "manual"), orders)
    assert on_tick.end == datetime(2024, 3, 5, 3, tzinfo=UTC)


def test_asset_triggered_run_loads_the_previous_calendar_day_in_the_pipelines_zone(pipelines):
    report = pipelines["daily_sales_report"]  # after: [shop_orders, shop_customers]
    assert report.after and report.schedule is None
    at = datetime(2024, 3, 5, 0, 30, tzinfo=UTC)
    interval = interval_from_context(_no_logical_date(at, "asset_triggered"), report)
    assert (interval.start, interval.end) == (datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC))
    berlin = ZoneInfo("Europe/Berlin")  # 00:30 UTC is 01:30 in Berlin: still 5 March there
    in_berlin = interval_from_context(
        _no_logical_date(at, "asset_triggered"), dataclasses.replace(report, timezone="Europe/Berlin")
    )
    assert (in_berlin.start, in_berlin.end) == (datetime(2024, 3, 4, tzinfo=berlin), datetime(2024, 3, 5, tzinfo=berlin))
    late = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)  # 00:30 on 5 March in Berlin, 4 March in UTC
    assert interval_from_context(_no_logical_date(late, "asset_triggered"), report).end == datetime(2024, 3, 4, tzinfo=UTC)
    berlin_late = interval_from_context(
        _no_logical_date(late, "asset_triggered"), dataclasses.replace(report, timezone="Europe/Berlin")
    )
    assert berlin_late.end == datetime(2024, 3, 5, tzinfo=berlin)


def test_a_scheduled_run_loads_its_own_data_interval(pipelines):
    orders = pipelines["shop_orders"]
    start, end = datetime(2024, 3, 1, 3, tzinfo=UTC), datetime(2024, 3, 2, 3, tzinfo=UTC)
    context = {"data_interval_start": start, "data_interval_end": end, **_no_logical_date(end, "scheduled")}
    interval = interval_from_context(context, orders)
    assert (interval.start, interval.end) == (start, end)
