"""Typed objects from a pipeline dict that already passed the schema and semantic checks.

Kept apart from loader.py (which finds, layers and validates files) so the shape of a
Pipeline is decided in one place and can be built from a cached dict without re-reading YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, Literal, cast

from dag_factory.config.model import (
    AlertChannel,
    Alerts,
    Check,
    CheckKind,
    FileSource,
    HttpSource,
    Lake,
    Load,
    Pagination,
    Parallel,
    Pipeline,
    Source,
    SqlSource,
    Target,
    Wait,
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or not text:
        raise ValueError(f"bad duration {text!r}")
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def build_pipeline(data: dict[str, Any], file: str, env: str) -> Pipeline:
    """Typed objects from a dict that already passed schema and semantic checks."""
    src, ld, tgt, lake = data["source"], data["load"], data["target"], data.get("lake")
    schedule = data.get("schedule", "@daily")
    return Pipeline(
        name=data["name"],
        description=data.get("description", ""),
        owner=data.get("owner", "airflow"),
        tags=tuple(data.get("tags", ())),
        schedule=None if isinstance(schedule, dict) else schedule,
        after=tuple(schedule["after"]) if isinstance(schedule, dict) else (),
        timezone=data.get("timezone", "UTC"),
        start_date=date.fromisoformat(data.get("start_date", "2024-01-01")),
        end_date=date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
        catchup=data.get("catchup", False),
        max_active_runs=data.get("max_active_runs", 1),
        source=build_source(src),
        load=Load(
            mode=ld["mode"],
            cursor=ld.get("cursor"),
            primary_key=tuple(ld.get("primary_key", ())),
            lookback=parse_duration(ld["lookback"]) if ld.get("lookback") else timedelta(0),
            hard_delete=ld.get("hard_delete"),
            compare=tuple(ld.get("compare", ())),
            on_schema_change=ld.get("on_schema_change", "append_new_columns"),
        ),
        lake=Lake(conn_id=lake["conn_id"], path=lake["path"].strip("/")) if lake else None,
        target=Target(conn_id=tgt["conn_id"], table=tgt["table"]),
        checks=build_checks(data.get("checks", [])),
        alerts=build_alerts(data.get("alerts", {})),
        retries=data.get("retries", 2),
        retry_delay=parse_duration(data.get("retry_delay", "5m")),
        timeout=parse_duration(data.get("timeout", "1h")),
        path=file,
        env=env,
        resolved={k: v for k, v in data.items() if k != "environments"},
    )


def build_source(src: dict[str, Any]) -> Source:
    """The typed source for its `type` (keys already checked per type by semantic.py)."""
    kind, batch = src.get("type", "sql"), src.get("batch_size", 50_000)
    fields = tuple((str(k), str(v)) for k, v in (src.get("fields") or {}).items())
    if kind == "http":
        pg = dict(src.get("pagination") or {})
        return HttpSource(
            conn_id=src["conn_id"],
            endpoint=src["endpoint"],
            params=tuple((str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in (src.get("params") or {}).items()),
            records_path=src.get("records_path", ""),
            pagination=Pagination(**pg),
            fields=fields,
            method=src.get("method", "GET"),
            batch_size=batch,
        )
    if kind == "file":
        wait = src.get("wait")
        return FileSource(
            conn_id=src["conn_id"],
            path=src["path"],
            format=src["format"],
            wait=Wait(
                timeout=parse_duration(wait.get("timeout", "1h")), poke_interval=parse_duration(wait.get("poke_interval", "5m"))
            )
            if wait is not None
            else None,
            fields=fields,
            batch_size=batch,
        )
    return SqlSource(
        conn_id=src["conn_id"],
        table=src.get("table"),
        query=src.get("query"),
        query_file=src.get("query_file"),
        columns=tuple(src["columns"]) if src.get("columns") else None,
        batch_size=batch,
        parallel=Parallel(str(par["column"]), int(par["parts"])) if (par := src.get("parallel")) else None,
    )


def build_checks(items: list[dict[str, Any]]) -> tuple[Check, ...]:
    """Typed checks with unique task names (row_count, not_null, accepted_values_status, sql_2, ...)."""
    out: list[Check] = []
    used: dict[str, int] = {}
    for item in items:
        ((kind, spec),) = item.items()
        kind = cast(CheckKind, kind)  # the schema allows only these keys
        if kind == "row_count":
            check = Check(kind, kind, min=spec.get("min"), max=spec.get("max"))
        elif kind in ("not_null", "unique"):
            check = Check(kind, kind, columns=tuple(spec))
        elif kind == "accepted_values":
            check = Check(kind, f"{kind}_{spec['column']}", columns=(spec["column"],), values=tuple(spec["values"]))
        elif kind == "freshness":
            check = Check(kind, f"{kind}_{spec['column']}", columns=(spec["column"],), max_age=parse_duration(spec["max_age"]))
        else:
            check = Check("sql", "sql", sql=spec)
        used[check.name] = used.get(check.name, 0) + 1
        if used[check.name] > 1 or kind == "sql":
            check = replace(check, name=f"{check.name}_{used[check.name]}")
        out.append(check)
    return tuple(out)


# subscripting Literal inside the loop cost 0.2 ms per pipeline (typing's cache lookup)
_ChatKind = Literal["slack", "teams"]


def build_alerts(spec: dict[str, Any]) -> Alerts:
    def channels(items: list[dict[str, Any]]) -> tuple[AlertChannel, ...]:
        out = []
        for item in items:
            ((kind, value),) = item.items()
            if kind == "email":
                out.append(AlertChannel("email", addresses=tuple(value)))
            else:
                out.append(AlertChannel(cast(_ChatKind, kind), conn_id=value))
        return tuple(out)

    deadline = spec.get("deadline")
    return Alerts(
        channels(spec.get("on_failure", [])), channels(spec.get("on_success", [])), parse_duration(deadline) if deadline else None
    )
