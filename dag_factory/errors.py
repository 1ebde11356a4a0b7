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


class EngineError(DagFactoryError):
    """Data could not be moved; the message names the pipeline step and object."""


class ConnectionConfigError(EngineError):
    """A connection is missing or of a kind the engine cannot serve."""
