"""Shared helpers for the config-layer and lint tests (imported as tests.config.helpers)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"
BROKEN = CASES / "broken"

_EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")
_XFAIL = re.compile(r"^# xfail: (.+)$")


@dataclass(frozen=True)
class Case:
    path: Path
    line: int
    column: int
    message: str
    xfail: str | None

    @property
    def rel(self) -> str:
        return str(self.path.relative_to(REPO))


def read_case(path: Path) -> Case:
    """Parse the `# expect: L:C: message` first line (and an optional `# xfail: reason` second line)."""
    head = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    m = _EXPECT.match(head[0]) if head else None
    if not m:
        raise AssertionError(f"{path}: first line must be '# expect: L:C: message'")
    x = _XFAIL.match(head[1]) if len(head) > 1 else None
    return Case(path, int(m.group(1)), int(m.group(2)), m.group(3), x.group(1) if x else None)


def broken_cases() -> list[Case]:
    return [read_case(p) for p in sorted(BROKEN.glob("*.yaml"))]


def write(path: Path, text: str) -> Path:
    """Write dedented YAML text (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def pipeline_yaml(name: str, *, mode: str = "snapshot", extra: str = "") -> str:
    """A small valid pipeline; `extra` (unindented YAML) is appended at the end."""
    load = "load:\n  mode: incremental\n  cursor: updated_at\n" if mode == "incremental" else f"load:\n  mode: {mode}\n"
    return (
        f"version: 1\nname: {name}\nschedule: '@daily'\n"
        "source:\n  type: sql\n  conn_id: shop_db\n  table: orders\n"
        f"{load}"
        f"target:\n  conn_id: warehouse\n  table: analytics.{name}\n"
        f"{textwrap.dedent(extra).lstrip(chr(10))}"
    )


def problem_lines(out: str) -> list[str]:
    """The `file:line:col: message` lines of text-format lint output (not the excerpt or summary)."""
    return [line for line in out.splitlines() if re.match(r"^\S.*:\d+:\d+: ", line)]
