"""The wait of a `type: file` source with `wait:`: a sensor before `extract.to_lake`.

It asks the engine whether at least one file matches the source's path for the run's
interval, in reschedule mode (the worker slot is free between checks), and fails the
run after `wait.timeout`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator

from dag_factory.config.model import FileSource, Pipeline


def files_ready(pipeline: Pipeline, context: Any, resolve=None, aws=None) -> bool:
    """The poke: True once a file matches `source.path` for the run's interval."""
    from dag_factory.airflow.operators import interval_from_context
    from dag_factory.engine.sources.file import FileSourceReader

    if resolve is None or aws is None:
        from dag_factory.airflow.connections import aws_context
        from dag_factory.airflow.connections import resolve as resolve_conn

        resolve, aws = resolve or resolve_conn, aws or aws_context
    source = pipeline.source
    assert isinstance(source, FileSource)
    interval = interval_from_context(context, pipeline)
    with FileSourceReader(resolve(source.conn_id), aws) as reader:
        return reader.has_files(source, interval)


class FilesSensor(BaseSensorOperator):
    """Waits until the pipeline's file source has at least one matching file."""

    ui_color = "#e8daef"

    def __init__(self, *, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline

    def poke(self, context: Any) -> bool:
        ready = files_ready(self.pipeline, context)
        self.log.info("files matching %r: %s", self.pipeline.source.label, "found" if ready else "none yet")
        return ready
