"""An error raised inside a pipeline step as the one line `dag-factory run`, the task log and
the failure alert show: where it happened (pipeline, YAML or query file and line, step), then
what. Imports no Airflow.
"""

from __future__ import annotations

from dag_factory.errors import EngineError


def located_text(exc: BaseException) -> str:
    """A located EngineError's str() already leads with its StepLocation; any other error that
    left a step (a driver's, Arrow's) carries the location as a note (engine/located.py)."""
    if isinstance(exc, EngineError):
        return str(exc)
    notes = [note for note in getattr(exc, "__notes__", ()) if note.startswith("in ")]
    return "; ".join([str(exc), *notes])


def is_located(exc: BaseException) -> bool:
    """Whether located_text(exc) names the pipeline (so a caller need not add it)."""
    if isinstance(exc, EngineError):
        return exc.where is not None
    return any(note.startswith("in ") for note in getattr(exc, "__notes__", ()))
