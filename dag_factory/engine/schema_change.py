"""Schema drift: compare the staged columns with the target's and plan what publish changes.

A source gains, loses, widens or retypes columns between runs; `load.on_schema_change` says
what happens (docs/schema-changes.md has the rules and the table per warehouse). The plan is
made here, free of any driver, from the catalog types both sides report (parsed by the
warehouse's type mapper); each warehouse applies it per its capabilities (inside the publish
transaction where it can). Comparing is by column name: a reordered source is no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from dag_factory.config.model import SchemaChangePolicy
from dag_factory.engine.warehouses.types import SqlType, TypeMapper, Widening
from dag_factory.errors import EngineError

ChangeKind = Literal["add", "widen", "drop", "keep", "ignore", "fit", "holds", "retype"]
APPLIED: frozenset[ChangeKind] = frozenset({"add", "widen", "drop"})  # the ones that alter the target

# staged values that need a check before they go into a narrower target type
FitsCheck = Callable[[str, SqlType], bool]  # (column, target type) -> every staged value fits


class SchemaChangeError(EngineError):
    """The staged columns cannot be published into the target under the pipeline's policy."""


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    column: str
    old: str | None = None  # the target's catalog type (None: not in the target)
    new: str | None = None  # the staged catalog type (None: not staged)

    def describe(self) -> str:
        if self.kind == "add":
            return f"added column {self.column} {self.new}"
        if self.kind == "widen":
            return f"widened {self.column} {self.old} -> {self.new}"
        if self.kind == "drop":
            return f"dropped column {self.column} {self.old}"
        if self.kind == "keep":
            return f"kept column {self.column} {self.old} (not in the source: NULL in new rows)"
        if self.kind == "ignore":
            return f"left out new source column {self.column} {self.new} (on_schema_change: ignore)"
        if self.kind == "holds":
            return f"kept {self.column} {self.old} (holds the source's {self.new})"
        if self.kind == "retype":
            return f"replaced {self.column} {self.old} with {self.new}"
        return f"loaded {self.column} {self.new} into the target's {self.old} (the values fit)"


@dataclass(frozen=True)
class Plan:
    target: str
    changes: tuple[Change, ...] = ()
    insert_columns: tuple[str, ...] = ()  # staged columns that go into the target, staged order
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def alters(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind in APPLIED)

    @property
    def warnings(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == "ignore")

    def summary(self) -> str:
        """One line for the run log, `dag-factory run` and the publish task's return value."""
        return "; ".join(c.describe() for c in self.changes)

    def raise_problems(self) -> None:
        if self.problems:
            raise SchemaChangeError(
                f"target table {self.target}: the staged columns cannot be published: "
                + "; ".join(self.problems)
                + ". Nothing was published."
            )


_WAY_OUT = "a full refresh (load.mode: full_refresh, or drop the target) rebuilds it, or cast the column in the source `query:`"


def _loads_as_is(mapper: TypeMapper, staged: SqlType, target: SqlType) -> bool:
    """The target's type holds every value of the staged type (the source narrowed, or equal)."""
    return staged == target or mapper.widening(staged, target) is not None


def _value_checked(staged: SqlType, target: SqlType) -> bool:
    """Type pairs where the staged values, not the type names, decide (a hand-made varchar(100)
    target with text staged; numbers staged wider than a target that holds the ones at hand)."""
    if staged.family == target.family and staged.family in ("string", "integer", "decimal"):
        return True
    return staged.family == "integer" and target.family == "decimal"


def plan(
    target: str,
    existing: list[tuple[str, str]],
    staged: list[tuple[str, str]],
    policy: SchemaChangePolicy,
    mapper: TypeMapper,
    widenings: frozenset[Widening],
    fits: FitsCheck,
    *,
    managed: tuple[str, ...] = (),
) -> Plan:
    """The changes publishing `staged` into `existing` makes under `policy`, or the problems
    that stop it. `managed` are target columns the loader writes itself (snapshot_date)."""
    have = {n: t for n, t in existing if n not in managed}
    changes: list[Change] = []
    problems: list[str] = []
    insert: list[str] = []
    for name, new in staged:
        old = have.get(name)
        if old is None:
            if policy == "fail":
                problems.append(f"new column {name} {new}")
            elif policy == "ignore":
                changes.append(Change("ignore", name, None, new))
                continue
            else:
                changes.append(Change("add", name, None, new))
            insert.append(name)
            continue
        insert.append(name)
        s, t = mapper.parse(new), mapper.parse(old)
        if s == t:
            continue
        if policy == "fail":
            problems.append(f"column {name} changed type: target {old}, staged {new}")
        elif _loads_as_is(mapper, s, t):
            changes.append(Change("holds", name, old, new))
        elif _value_checked(s, t) and fits(name, t):
            changes.append(Change("fit", name, old, new))
        else:
            widening = mapper.widening(t, s)
            if policy != "ignore" and widening is not None and widening in widenings:
                changes.append(Change("widen", name, old, new))
            elif policy != "ignore" and widening is not None:
                problems.append(
                    f"column {name}: widening {old} -> {new} is not something this warehouse can do "
                    f"to an existing column; {_WAY_OUT}"
                )
            else:
                why = "values do not fit" if _value_checked(s, t) else "not a safe widening"
                problems.append(f"column {name}: target {old}, staged {new} ({why}); {_WAY_OUT}")
    for name, old in have.items():
        if any(name == n for n, _ in staged):
            continue
        if policy == "fail":
            problems.append(f"column {name} {old} is no longer in the source")
        elif policy == "sync_all_columns":
            changes.append(Change("drop", name, old, None))
        else:
            changes.append(Change("keep", name, old, None))
    return Plan(target, tuple(changes), tuple(insert), tuple(problems))


def replaced(target: str, existing: list[tuple[str, str]] | None, staged: list[tuple[str, str]], mapper: TypeMapper) -> Plan:
    """full_refresh: the new table's shape wins under every policy; this only says what changed."""
    if existing is None:
        return Plan(target, (), tuple(n for n, _ in staged))
    have = dict(existing)
    changes = [Change("add", n, None, t) for n, t in staged if n not in have]
    changes += [
        Change("widen" if mapper.widening(mapper.parse(have[n]), mapper.parse(t)) else "retype", n, have[n], t)
        for n, t in staged
        if n in have and mapper.parse(have[n]) != mapper.parse(t)
    ]
    names = {n for n, _ in staged}
    changes += [Change("drop", n, t, None) for n, t in existing if n not in names]
    return Plan(target, tuple(changes), tuple(n for n, _ in staged))
