"""The two sides of `dag-factory diff` (a pipelines folder loaded through the config layer)
and the report of what changed between them: added, removed, renamed or moved, changed,
invalid, other files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dag_factory.cli.diff_facts import Change, Facts, compare, facts, one_line_summary
from dag_factory.config.describe import source_query_file
from dag_factory.config.loader import FileError, is_pipeline_file, load_pipelines


@dataclass
class Side:
    label: str
    root: Path
    shown_root: str  # how paths under root are shown (repository-relative)
    facts: dict[str, Facts] = field(default_factory=dict)  # by name
    errors: dict[str, str] = field(default_factory=dict)  # relpath -> first error
    files: dict[str, bytes] = field(default_factory=dict)  # relpath -> content, every file under root

    def rel(self, path: str | Path) -> str:
        p = Path(path)
        p = p if p.is_absolute() else Path.cwd() / p
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def shown(self, rel: str) -> str:
        return f"{self.shown_root}/{rel}" if self.shown_root else rel


def _first_error(side: Side, error: FileError) -> str:
    problems = error.error.problems
    if not problems:
        return str(error.error)
    p = problems[0]
    file = side.shown(side.rel(p.file)) if p.file else side.shown(side.rel(error.path))
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{file}:{p.line}:{p.column}: {p.message}{more}"


def load_side(label: str, root: Path, shown_root: str, env: str | None) -> Side:
    side = Side(label, root, shown_root)
    if not root.is_dir():
        return side
    for f in sorted(root.rglob("*")):
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(root).parts):
            side.files[f.relative_to(root).as_posix()] = f.read_bytes()
    result = load_pipelines(root, env)
    for name, p in result.pipelines.items():
        fx = facts(p, side.shown(side.rel(p.path)))
        query_file = source_query_file(p)
        if query_file:  # shown like every other path: relative to the repository, same on both sides
            fx.source = fx.source.replace(query_file, side.shown(side.rel(query_file)))
        side.facts[name] = fx
    for error in result.errors:
        side.errors[side.rel(error.path)] = _first_error(side, error)
    return side


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    base_label: str
    head_label: str
    env: str
    added: list[Facts] = field(default_factory=list)
    removed: list[Facts] = field(default_factory=list)
    renamed: list[tuple[Facts, Facts, list[Change]]] = field(default_factory=list)  # renamed or moved
    changed: list[tuple[Facts, list[Change]]] = field(default_factory=list)
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # (path, status, first error)
    other_files: list[tuple[str, str]] = field(default_factory=list)  # (path, added/removed/modified)
    still_invalid: list[str] = field(default_factory=list)  # invalid before and after, untouched
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.changed or self.invalid or self.other_files)


def build_report(base: Side, head: Side, env: str) -> Report:
    report = Report(base.label, head.label, env)
    old, new = dict(base.facts), dict(head.facts)
    for name in sorted(set(old) & set(new)):
        a, b = old.pop(name), new.pop(name)
        changes = compare(a, b)
        if a.path != b.path:
            report.renamed.append((a, b, changes))
        elif changes:
            report.changed.append((b, changes))
        else:
            report.unchanged += 1
    # a pipeline whose file is invalid on the other side is reported as invalid/fixed, not removed/added
    for name in [n for n in old if n in {Path(r).stem for r in head.errors}]:
        del old[name]
    for name in [n for n in new if n in {Path(r).stem for r in base.errors}]:
        del new[name]
    # renamed: same content under a new name, then the same target table under a new name
    for match in (lambda a, b: a.signature() == b.signature(), lambda a, b: a.target.lower() == b.target.lower()):
        for name_a in sorted(old):
            hit = next((n for n in sorted(new) if match(old[name_a], new[n])), None)
            if hit:
                a, b = old.pop(name_a), new.pop(hit)
                report.renamed.append((a, b, compare(a, b)))
    report.removed = [old[n] for n in sorted(old)]
    report.added = [new[n] for n in sorted(new)]

    for rel, error in sorted(head.errors.items()):
        if rel in base.errors:
            if base.files.get(rel) == head.files.get(rel) and base.errors[rel] == error:
                report.still_invalid.append(head.shown(rel))  # not this change's doing
                continue
            status = "still invalid"
        elif Path(rel).stem in base.facts:
            status = "now invalid (was valid)"
        elif rel in base.files:
            status = "now invalid"
        else:
            status = "added, invalid"
        report.invalid.append((head.shown(rel), status, error))
    for rel, error in sorted(base.errors.items()):
        if rel in head.errors:
            continue
        fixed = head.facts.get(Path(rel).stem)
        status = f"fixed (now valid): {one_line_summary(fixed)}" if fixed else "removed (was invalid)"
        report.invalid.append((base.shown(rel), status, error))

    for rel in sorted(set(base.files) | set(head.files)):
        if is_pipeline_file(Path(rel)):
            continue
        before, after = base.files.get(rel), head.files.get(rel)
        if before != after:
            status = "added" if before is None else "removed" if after is None else "modified"
            report.other_files.append((head.shown(rel), status))
    return report
