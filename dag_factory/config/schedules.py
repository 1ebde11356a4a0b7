"""Schedules without Airflow: presets, cron validation and data intervals.

Airflow computes intervals with CronDataIntervalTimetable; this module gives the
same answer for `dag-factory run --date` and for lint, without importing Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def cron_of(schedule: str) -> str:
    """The cron expression behind a schedule string (presets expanded)."""
    return PRESETS.get(schedule, schedule)


@lru_cache(maxsize=256)
def cron_problem(schedule: str) -> str | None:
    """Why a schedule string is not a valid cron/preset, or None when it is."""
    from croniter import croniter  # imported lazily: lint of files without schedules stays fast

    if schedule.startswith("@") and schedule not in PRESETS:
        return f"unknown preset {schedule!r}; use one of {', '.join(sorted(PRESETS))}"
    expr = cron_of(schedule)
    if len(expr.split()) != 5:
        return f"cron expression {schedule!r} must have 5 fields (minute hour day month weekday)"
    if not croniter.is_valid(expr):
        return f"invalid cron expression {schedule!r}"
    try:  # syntactically fine is not enough: '0 0 30 2 *' never fires
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)
    except (ValueError, KeyError, ArithmeticError, RuntimeError) as exc:
        return f"cron expression {schedule!r} never fires ({type(exc).__name__})"
    return None


@lru_cache(maxsize=256)
def timezone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder of zones, 300 chars too long a path
        return f"unknown timezone {name!r} (use an IANA name such as 'Europe/Berlin' or 'UTC')"
    return None


@dataclass(frozen=True)
class Interval:
    """A half-open data interval [start, end) with tz-aware bounds."""

    start: datetime
    end: datetime
    tz: str = "UTC"
    named_start: datetime | None = None  # widened(): the run's own start, which still names its partition

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        # Airflow hands out pendulum DateTimes, whose arithmetic mixes badly with stdlib
        # datetimes (naive/aware TypeErrors); keep plain datetimes with a fixed UTC offset.
        for name in ("start", "end"):
            value = getattr(self, name)
            if type(value) is not datetime:
                object.__setattr__(self, name, datetime.fromisoformat(value.isoformat()))
        if not self.start < self.end:
            raise ValueError(f"empty interval: {self.start} .. {self.end}")

    def widened(self, lookback: timedelta) -> Interval:
        """The window a run with `load.lookback` reads and replaces: [start - lookback, end),
        still named (ds, partition) by this interval; its start is what queries see as
        data_interval_start."""
        if not lookback:
            return self
        return Interval(self.start - lookback, self.end, self.tz, self.named_start or self.start)

    @property
    def _named(self) -> datetime:
        return self.named_start or self.start

    @property
    def ds(self) -> str:
        """The partition date: the interval start's date in the pipeline's timezone."""
        return self._named.astimezone(ZoneInfo(self.tz)).date().isoformat()

    @property
    def partition(self) -> str:
        """The lake partition of this interval: `ds` for intervals of a day or longer;
        intervals shorter than a day add their local start time (`2024-03-01T1300`),
        so hourly runs of one day do not overwrite each other's partition."""
        if self.end - self._named >= timedelta(days=1):
            return self.ds
        return self._named.astimezone(ZoneInfo(self.tz)).strftime("%Y-%m-%dT%H%M")

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def interval_for_date(schedule: str | None, tz: str, day: date) -> Interval:
    """The interval a run "for day D" loads: the first schedule tick on or after D 00:00
    (pipeline timezone) up to the next tick. Manual pipelines load the calendar day."""
    zone = ZoneInfo(tz)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    if schedule is None:
        return Interval(midnight, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone), tz)
    from croniter import croniter

    expr = cron_of(schedule)
    if croniter.match(expr, midnight):
        start = midnight
    else:
        start = croniter(expr, midnight).get_next(datetime)
    end = croniter(expr, start).get_next(datetime)
    return Interval(start.astimezone(zone), end.astimezone(zone), tz)


def latest_complete_interval(schedule: str | None, tz: str, now: datetime) -> Interval:
    """The last interval that ended at or before `now`: what a manual run with no
    logical date loads (Airflow gives such runs no data interval)."""
    zone = ZoneInfo(tz)
    now = now.astimezone(zone)
    if schedule is None:
        today = datetime.combine(now.date(), time(0), tzinfo=zone)
        return Interval(datetime.combine(now.date() - timedelta(days=1), time(0), tzinfo=zone), today, tz)
    from croniter import croniter

    expr = cron_of(schedule)
    end = (
        now
        if croniter.match(expr, now.replace(second=0, microsecond=0)) and now.second == 0 and now.microsecond == 0
        else croniter(expr, now).get_prev(datetime)
    )
    start = croniter(expr, end).get_prev(datetime)
    return Interval(start.astimezone(zone), end.astimezone(zone), tz)


def intervals_between(schedule: str | None, tz: str, first: date, last: date) -> list[Interval]:
    """Every interval a run "for day D" would load, D from `first` to `last` inclusive, in order:
    consecutive schedule intervals from the first tick on or after `first` 00:00 until the
    interval starting after `last` ends (hourly schedules give 24 per day)."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    zone = ZoneInfo(tz)
    stop = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    out: list[Interval] = []
    iv = interval_for_date(schedule, tz, first)
    while iv.start < stop:
        out.append(iv)
        if schedule is None:
            nxt = iv.end.astimezone(zone).date()
            iv = Interval(iv.end, datetime.combine(nxt + timedelta(days=1), time(0), tzinfo=zone), tz)
        else:
            from croniter import croniter

            end = croniter(cron_of(schedule), iv.end).get_next(datetime)
            iv = Interval(iv.end, end.astimezone(zone), tz)
    return out
