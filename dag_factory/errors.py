"""The one error family of dag_factory.

Every user-facing error carries where it comes from (file, line, column, key
path) so the CLI and the placeholder DAG can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DagFactoryError(Exception):
    """Base of all errors raised on purpose by dag_factory."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pipeline file, located as precisely as we can."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    message: str
    key_path: str = ""  # e.g. "load.cursor"
    hint: str = ""  # e.g. "did you mean 'cursor'?"

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        key = f" [{self.key_path}]" if self.key_path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}: {self.message}{key}{hint}"


@dataclass
class ConfigError(DagFactoryError):
    """A pipeline file is invalid; carries every problem found, not just the first."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)


@dataclass(frozen=True)
class StepLocation:
    """Where an engine error happened: the pipeline, its YAML file, the step, and (when the
    cause is written in the YAML or a query file) the line there."""

    pipeline: str
    file: str  # the pipeline's YAML file ("" when built in code)
    step: str  # extract | stage | check | publish | load (stage + publish in one go)
    line: int = 0  # 1-based line in `at_file` (or `file`); 0 when unknown
    at_file: str = ""  # a query file when the line is in it
    key_path: str = ""  # the key whose value caused it, e.g. "source.query"

    def format(self) -> str:
        where = self.at_file or self.file
        head = f"{where}:{self.line}" if where and self.line else where
        key = f" [{self.key_path}]" if self.key_path else ""
        of = f" ({self.file})" if self.at_file and self.file else ""
        text = f"pipeline {self.pipeline!r}{of}, step {self.step}"
        return f"{head}{key}: {text}" if head else f"{text}{key}"


class EngineError(DagFactoryError):
    """Data could not be moved; the message names the object, `where` the pipeline, file,
    step and line (set at the step boundary, see engine/located.py) and str() shows both."""

    where: StepLocation | None = None

    def located(self, where: StepLocation) -> EngineError:
        """Attach the location once (the innermost step boundary knows it best); returns self."""
        if self.where is None:
            self.where = where
        return self

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.where.format()}: {message}" if self.where is not None else message


class ConnectionConfigError(EngineError):
    """A connection is missing or of a kind the engine cannot serve."""
