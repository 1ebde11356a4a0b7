"""Checks that span pipeline files: `after:` names exist and form no cycle, and one
pipeline per target table. They run on typed Pipelines after every file has loaded."""

from __future__ import annotations

import difflib
from dataclasses import replace

from dag_factory.config.model import Pipeline
from dag_factory.config.yaml_loader import VALUE, Mark
from dag_factory.errors import Problem


def at_mark(marks: dict, path: tuple, message: str, key: str) -> Problem:
    m = marks.get(path) or marks.get(path[:-1]) or Mark("?", 1, 1)
    return Problem(m.file, m.line, m.column, message, key)


def cross_file_problems(pipelines: dict[str, Pipeline], marks: dict[str, dict], known: set[str]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    targets: dict[tuple[str, str], str] = {}
    for name, p in pipelines.items():
        for i, upstream in enumerate(p.after):
            if upstream not in known:
                close = difflib.get_close_matches(upstream, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else ""
                problem = at_mark(
                    marks[name], ("schedule", "after", i, VALUE), f"after: no pipeline named {upstream!r}", "schedule.after"
                )
                out.setdefault(name, []).append(replace(problem, hint=hint))
        key = (p.target.conn_id, p.target.table.lower())
        if key in targets:
            message = f"target {p.target.conn_id}:{p.target.table} is already loaded by pipeline {targets[key]!r}; one table, one pipeline"
            out.setdefault(name, []).append(at_mark(marks[name], ("target", "table", VALUE), message, "target.table"))
        else:
            targets[key] = name
    for cycle in _cycles({n: [u for u in p.after if u in pipelines] for n, p in pipelines.items()}):
        chain = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            out.setdefault(name, []).append(
                at_mark(marks[name], ("schedule", "after", VALUE), f"after: dependencies form a cycle: {chain}", "schedule.after")
            )
    return out


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every distinct cycle's members, found by DFS (graphs here are small)."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if frozenset(cycle) not in seen_sets:
                    seen_sets.add(frozenset(cycle))
                    found.append(cycle)
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found
