"""An engine error as one line that says where: pipeline, step, YAML or query file and line.

The engine's located errors carry those as attributes; `dag-factory run`, the task log and
the failure alert all print them through this one function. Imports no Airflow.
"""

from __future__ import annotations

_WHERE = ("pipeline", "step", "file", "line")


def located_text(exc: BaseException) -> str:
    """`pipeline shop_orders, step extract, pipelines/sql/q.sql:3: SQL template error: ...`;
    just the message for errors that carry no location."""
    pipeline, step, file, line = (getattr(exc, name, None) for name in _WHERE)
    message = str(getattr(exc, "message", None) or exc)
    parts = []
    if pipeline and f"pipeline {pipeline}" not in message:
        parts.append(f"pipeline {pipeline}")
    if step and f"step {step}" not in message:
        parts.append(f"step {step}")
    if file and str(file) not in message:
        parts.append(f"{file}:{line}" if line else str(file))
    return f"{', '.join(parts)}: {message}" if parts else message
