"""Schedules without Airflow: the interval a run "for day D" loads, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dag_factory.config.schedules import PRESETS, Interval, cron_of, cron_problem, interval_for_date, timezone_problem

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = UTC


def test_daily_cron_in_seoul():
    i = interval_for_date("0 3 * * *", "Asia/Seoul", date(2024, 3, 5))
    assert i.start == datetime(2024, 3, 5, 3, tzinfo=SEOUL)
    assert i.end == datetime(2024, 3, 6, 3, tzinfo=SEOUL)
    assert i.start_utc == datetime(2024, 3, 4, 18, tzinfo=UTC)  # Seoul is UTC+9, no DST
    assert i.end_utc == datetime(2024, 3, 5, 18, tzinfo=UTC)
    assert i.ds == "2024-03-05"  # the partition date is read in the pipeline's zone, not UTC
    assert i.tz == "Asia/Seoul"
    assert str(i) == "[2024-03-05T03:00:00+09:00, 2024-03-06T03:00:00+09:00)"


def test_daily_preset_in_seoul_starts_at_local_midnight():
    i = interval_for_date("@daily", "Asia/Seoul", date(2024, 3, 5))
    assert (i.start_utc, i.end_utc) == (datetime(2024, 3, 4, 15, tzinfo=UTC), datetime(2024, 3, 5, 15, tzinfo=UTC))
    assert i.ds == "2024-03-05"


def test_hourly_is_the_first_hour_of_the_day():
    i = interval_for_date("@hourly", "UTC", date(2024, 3, 5))
    assert (i.start, i.end) == (datetime(2024, 3, 5, 0, tzinfo=UTC), datetime(2024, 3, 5, 1, tzinfo=UTC))
    assert interval_for_date("0 * * * *", "UTC", date(2024, 3, 5)) == i


def test_hourly_on_a_dst_day_is_one_real_hour():
    for day in (date(2024, 3, 31), date(2024, 10, 27)):  # Berlin spring forward / fall back
        i = interval_for_date("@hourly", "Europe/Berlin", day)
        assert i.end_utc - i.start_utc == timedelta(hours=1)
        assert i.start == datetime.combine(day, datetime.min.time(), tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/Berlin", date(2024, 3, 31), 23),  # clocks go forward
        ("Europe/Berlin", date(2024, 10, 27), 25),  # clocks go back
        ("America/New_York", date(2024, 3, 10), 23),
        ("America/New_York", date(2024, 11, 3), 25),
        ("Europe/Berlin", date(2024, 3, 30), 24),
        ("Asia/Seoul", date(2024, 3, 31), 24),
    ],
)
def test_manual_pipeline_loads_the_calendar_day_across_dst(tz, day, hours):
    i = interval_for_date(None, tz, day)
    zone = ZoneInfo(tz)
    assert i.start == datetime(day.year, day.month, day.day, tzinfo=zone)
    assert i.end == datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    assert i.end_utc - i.start_utc == timedelta(hours=hours)
    assert i.ds == day.isoformat()


@pytest.mark.parametrize(("day", "hours"), [(date(2024, 3, 30), 23), (date(2024, 10, 26), 25), (date(2024, 10, 27), 24)])
def test_daily_cron_across_dst_keeps_local_wall_time(day, hours):
    # 03:00 Berlin to 03:00 Berlin: the interval holding the clock change is 23 or 25 real hours
    i = interval_for_date("0 3 * * *", "Europe/Berlin", day)
    assert (i.start.date(), i.start.hour, i.end.hour) == (day, 3, 3)
    assert i.end_utc - i.start_utc == timedelta(hours=hours)


def test_weekly_cron_starts_on_the_next_tick():
    i = interval_for_date("0 3 * * 1", "UTC", date(2024, 3, 5))  # a Tuesday -> the next Monday
    assert (i.start, i.end) == (datetime(2024, 3, 11, 3, tzinfo=UTC), datetime(2024, 3, 18, 3, tzinfo=UTC))


def test_consecutive_days_tile_without_gaps():
    days = [date(2024, 10, 25) + timedelta(days=n) for n in range(5)]
    intervals = [interval_for_date("0 3 * * *", "Europe/Berlin", d) for d in days]
    for a, b in zip(intervals, intervals[1:], strict=False):
        assert a.end == b.start


def test_interval_rejects_naive_datetimes():
    aware = datetime(2024, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2024, 1, 1), aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2))


def test_interval_rejects_empty_or_reversed_bounds():
    t = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="empty interval"):
        Interval(t, t)
    with pytest.raises(ValueError, match="empty interval"):
        Interval(t + timedelta(hours=1), t)


def test_presets_expand_to_cron():
    assert cron_of("@daily") == "0 0 * * *"
    assert cron_of("15 4 * * *") == "15 4 * * *"
    for preset in PRESETS:
        assert cron_problem(preset) is None


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ("0 3 * *", "must have 5 fields"),
        ("0 3 * * * *", "must have 5 fields"),
        ("daily", "must have 5 fields"),
        ("61 3 * * *", "invalid cron expression"),
        ("0 25 * * *", "invalid cron expression"),
        ("0 3 * 13 *", "invalid cron expression"),
        ("@daly", "unknown preset '@daly'"),
        ("@every 5m", "unknown preset"),
    ],
)
def test_cron_problem(schedule, fragment):
    problem = cron_problem(schedule)
    assert problem is not None and fragment in problem


def test_timezone_problem():
    assert timezone_problem("Asia/Seoul") is None
    assert timezone_problem("UTC") is None
    assert "unknown timezone 'Asia/Seol'" in timezone_problem("Asia/Seol")
    assert timezone_problem("../../etc/passwd") is not None
    assert timezone_problem("") is not None


def test_interval_from_pendulum_bounds_does_arithmetic_with_stdlib_datetimes():
    """Airflow's context holds pendulum DateTimes; mixing them with stdlib datetimes
    raised "can't compare offset-naive and offset-aware" in the freshness check."""
    import pendulum

    iv = Interval(pendulum.datetime(2024, 3, 1, 3), pendulum.datetime(2024, 3, 2, 3, 0, 0, 123456), "UTC")
    moment = datetime(2024, 3, 1, 20, tzinfo=UTC)
    assert iv.end_utc - timedelta(days=1) <= moment
    assert iv.end_utc.microsecond == 123456 and iv.ds == "2024-03-01"
