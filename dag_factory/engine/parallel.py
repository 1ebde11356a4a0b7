"""Parallel extraction: split one interval's selection into ranges of a column.

A plan is made once per run (Airflow: the `extract.plan` task, whose XCom every mapped
part reads, so a retried part reads exactly the range it had): the bounds come from the
interval when the column is the incremental cursor, else from min/max of the column
within the selection. The first part is open below (and takes NULLs), the last open
above, so rows that appear outside min..max after planning still land in one part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dag_factory.config.model import Load, Pipeline, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.identifiers import validate_identifier
from dag_factory.errors import EngineError

Bound = int | date | datetime


@dataclass(frozen=True)
class PartRange:
    """Rows of part `index` (of `parts`): lo <= column < hi; None = open on that side.
    `nulls`: also rows whose column is NULL (the first part); `empty`: no rows (the
    selection was empty when planned, and the first part takes everything)."""

    index: int
    parts: int
    column: str
    lo: Bound | None = None
    hi: Bound | None = None
    nulls: bool = False
    empty: bool = False

    def to_json(self) -> dict[str, Any]:
        """A plain dict for an XCom (the mapped task's argument)."""
        return {
            "index": self.index,
            "parts": self.parts,
            "column": self.column,
            "lo": _encode(self.lo),
            "hi": _encode(self.hi),
            "nulls": self.nulls,
            "empty": self.empty,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PartRange:
        return cls(
            int(d["index"]),
            int(d["parts"]),
            validate_identifier(d["column"]),
            _decode(d["lo"]),
            _decode(d["hi"]),
            bool(d["nulls"]),
            bool(d["empty"]),
        )

    def label(self) -> str:
        return f"part {self.index + 1}/{self.parts}"


def _encode(v: Bound | None) -> list[Any] | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return ["datetime", v.isoformat()]
    if isinstance(v, date):
        return ["date", v.isoformat()]
    return ["int", int(v)]


def _decode(v: list[Any] | None) -> Bound | None:
    if v is None:
        return None
    kind, value = v
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return int(value)


def _as_bound(v: Any, column: str) -> Bound:
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int | date | datetime):
        raise EngineError(
            f"source.parallel.column {column!r} must be an integer, date or timestamp column (min/max gave {type(v).__name__})"
        )
    return v


def split(lo: Bound, hi: Bound, parts: int) -> list[Bound]:
    """parts - 1 inner boundaries of [lo, hi] (integers: of lo..hi inclusive)."""
    if isinstance(lo, datetime) and isinstance(hi, datetime):
        step = (hi - lo) / parts
        return [lo + step * i for i in range(1, parts)]
    if isinstance(lo, date) and isinstance(hi, date) and not isinstance(lo, datetime):
        a, b = lo.toordinal(), hi.toordinal()
        return [date.fromordinal(a + -(-(b - a + 1) * i // parts)) for i in range(1, parts)]
    if isinstance(lo, int) and isinstance(hi, int):
        return [lo + -(-(hi - lo + 1) * i // parts) for i in range(1, parts)]
    raise EngineError(f"cannot split the range {lo!r}..{hi!r}")


def ranges(column: str, parts: int, lo: Any, hi: Any) -> list[PartRange]:
    """The parts for a column whose values (as planned) lie in lo..hi (None: no rows)."""
    if lo is None or hi is None:
        return [PartRange(i, parts, column, nulls=i == 0, empty=i > 0) for i in range(parts)]
    inner = split(_as_bound(lo, column), _as_bound(hi, column), parts)
    edges: list[Bound | None] = [None, *inner, None]
    return [PartRange(i, parts, column, edges[i], edges[i + 1], nulls=i == 0) for i in range(parts)]


def interval_ranges(column: str, parts: int, window: Interval) -> list[PartRange]:
    """The cursor column's parts: the interval itself split (the selection already filters it)."""
    inner = split(window.start_utc, window.end_utc, parts)
    edges: list[Bound | None] = [None, *inner, None]
    return [PartRange(i, parts, column, edges[i], edges[i + 1]) for i in range(parts)]


def splits_interval(load: Load, column: str) -> bool:
    return load.mode == "incremental" and load.cursor == column


def window_of(pipeline: Pipeline, interval: Interval) -> Interval:
    """The interval the extract reads (lookback included), the same for plan and parts."""
    return interval.widened(pipeline.load.lookback)


def parallel_of(pipeline: Pipeline) -> tuple[SqlSource, str, int] | None:
    s = pipeline.source
    if isinstance(s, SqlSource) and s.parallel is not None:
        return s, validate_identifier(s.parallel.column), s.parallel.parts
    return None


def part_where(
    part: PartRange, quoted: str, ph: str, conv: Any = lambda v: v, cmp: str = "{c} {op} {ph}"
) -> tuple[str, list[Any]]:
    """The part's condition on the quoted column, with `ph` placeholders and converted values.
    `cmp` lets a dialect wrap both sides (SQLite compares timestamps by julianday)."""
    if part.empty:
        return "1 = 0", []
    conds: list[str] = []
    params: list[Any] = []
    if part.lo is not None:
        conds.append(cmp.format(c=quoted, op=">=", ph=ph))
        params.append(conv(part.lo))
    if part.hi is not None:
        conds.append(cmp.format(c=quoted, op="<", ph=ph))
        params.append(conv(part.hi))
    cond = " AND ".join(conds) or "1 = 1"
    if part.nulls:
        cond = f"({cond} OR {quoted} IS NULL)"
    return cond, params
