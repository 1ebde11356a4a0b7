"""SQL identifier checks and quoting.

Every table/column name the engine puts into SQL text passes through here, so a
name from a pipeline file can never smuggle SQL in. Values (interval bounds,
dates) are never formatted into SQL: they are always bound parameters.
"""

from __future__ import annotations

import re

from dag_factory.errors import EngineError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_identifier(name: str) -> str:
    """Return `name` if it is a plain SQL identifier, else raise EngineError."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise EngineError(f"invalid SQL identifier {name!r}: use letters, digits and underscores, not starting with a digit")
    return name


def split_table(name: str) -> tuple[str | None, str]:
    """Split "schema.table" (or "table") into validated (schema, table)."""
    if not isinstance(name, str):
        raise EngineError(f"invalid table name {name!r}")
    parts = name.split(".")
    if len(parts) == 1:
        return None, validate_identifier(parts[0])
    if len(parts) == 2:
        return validate_identifier(parts[0]), validate_identifier(parts[1])
    raise EngineError(f"invalid table name {name!r}: expected 'table' or 'schema.table'")


def quote_ident(name: str) -> str:
    """`name` -> `"name"` (validated first; quoting keeps the exact case)."""
    return f'"{validate_identifier(name)}"'


def quote_table(name: str) -> str:
    """`a.b` -> `"a"."b"`, `t` -> `"t"`."""
    schema, table = split_table(name)
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)
