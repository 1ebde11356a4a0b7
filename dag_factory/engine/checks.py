"""Data-quality checks on a run's staged rows (the "audit" of write-audit-publish).

Each check is one SQL query against the staging table; a failure names the check,
counts the offending rows and shows a few of them. Checks never change data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from dag_factory.config.model import Check
from dag_factory.config.schedules import Interval
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.sources.base import template_values
from dag_factory.engine.templating import render_sql
from dag_factory.engine.warehouses.base import Warehouse
from dag_factory.errors import EngineError

EXAMPLES = 5


@dataclass(frozen=True)
class CheckResult:
    check: Check
    passed: bool
    offending: int  # rows (or values) that break the check; for row_count the count itself
    detail: str
    examples: list[dict[str, Any]] = field(default_factory=list)

    def message(self) -> str:
        head = f"check {self.check.name!r} ({self.check.describe()}) {'passed' if self.passed else 'FAILED'}: {self.detail}"
        if self.passed or not self.examples:
            return head
        rows = "\n".join(f"  - {_row(e)}" for e in self.examples)
        return f"{head}\n  first {len(self.examples)} offending:\n{rows}"


class CheckFailed(EngineError):
    """A data-quality check found bad rows; the target was not touched."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message())
        self.result = result


def _row(example: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in example.items())
    return text if len(text) <= 300 else text[:297] + "..."


def _examples(wh: Warehouse, sql: str, params: list) -> list[dict[str, Any]]:
    names, rows = wh.fetch(f"{sql} LIMIT {EXAMPLES}", params)
    return [dict(zip(names, r, strict=True)) for r in rows]


def _scalar(wh: Warehouse, sql: str, params: list | None = None) -> Any:
    return wh.fetch(sql, params or [])[1][0][0]


def run_check(wh: Warehouse, check: Check, stage_sql: str, interval: Interval) -> CheckResult:
    """Run one check against the staging table `stage_sql` (already quoted)."""
    p = wh.placeholder
    if check.kind == "row_count":
        n = int(_scalar(wh, f"SELECT count(*) FROM {stage_sql}"))
        ok = (check.min is None or n >= check.min) and (check.max is None or n <= check.max)
        return CheckResult(check, ok, n, f"{n} rows staged")
    if check.kind == "not_null":
        cond = " OR ".join(f"{quote_ident(c)} IS NULL" for c in check.columns)
        return _offending_rows(wh, check, f"SELECT * FROM {stage_sql} WHERE {cond}", [], "rows with NULL")
    if check.kind == "unique":
        for column in check.columns:
            c = quote_ident(column)
            dup = f"SELECT {c}, count(*) AS copies FROM {stage_sql} WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1"
            result = _offending_rows(wh, check, dup, [], f"duplicated values of {column}")
            if not result.passed:
                return result
        return CheckResult(check, True, 0, "no duplicates")
    if check.kind == "accepted_values":
        c = quote_ident(check.columns[0])
        marks = ", ".join([p] * len(check.values))
        bad = f"SELECT {c}, count(*) AS row_count FROM {stage_sql} WHERE {c} IS NOT NULL AND {c} NOT IN ({marks}) GROUP BY {c}"
        return _offending_rows(wh, check, bad, list(check.values), "unexpected values")
    if check.kind == "freshness":
        return _freshness(wh, check, stage_sql, interval)
    if check.kind == "sql":
        sql, params = render_sql(check.sql or "", template_values(interval), p, wh.escape_literal, raw={"target": stage_sql})
        inner = sql.strip().rstrip(";")
        return _offending_rows(wh, check, f"SELECT * FROM ({inner}) AS offending", params, "rows returned")
    raise EngineError(f"unknown check kind {check.kind!r}")


def _offending_rows(wh: Warehouse, check: Check, sql: str, params: list, what: str) -> CheckResult:
    n = int(_scalar(wh, f"SELECT count(*) FROM ({sql}) AS c", params))
    if n == 0:
        return CheckResult(check, True, 0, f"0 {what}")
    return CheckResult(check, False, n, f"{n} {what}", _examples(wh, sql, params))


def _freshness(wh: Warehouse, check: Check, stage_sql: str, interval: Interval) -> CheckResult:
    column = check.columns[0]
    newest = _scalar(wh, f"SELECT max({quote_ident(column)}) FROM {stage_sql}")
    if newest is None:
        return CheckResult(check, False, 0, f"no {column} values staged, so nothing is fresh")
    if isinstance(newest, datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=UTC)  # naive = UTC
    elif isinstance(newest, date):
        moment = datetime.combine(newest, time(0), tzinfo=UTC)
    else:
        raise EngineError(
            f"freshness check {check.name!r}: column {column!r} holds {type(newest).__name__}, not a date or timestamp"
        )
    assert check.max_age is not None
    limit = interval.end_utc - check.max_age
    age = interval.end_utc - moment
    ok = moment >= limit
    return CheckResult(
        check, ok, 0 if ok else 1, f"newest {column} is {newest} ({age} before the interval end; allowed {check.max_age})"
    )
