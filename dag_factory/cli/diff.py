"""`dag-factory diff [BASE_REF]`: what a change does to the DAGs, not to the YAML.

Loads `pipelines/` as it is at a git ref (files read with `git ls-tree` / `git cat-file`
into a temporary folder, so that ref's `_defaults.yaml` and query files apply) and as it is
in the working tree, both through the config layer, then reports pipelines added, removed,
renamed or moved, and changed - for each change the schedule, load type, source, target,
lake, tasks, checks, alerts and `after:` dependencies it touches. Invalid files on either
side are reported with their first error. Never imports Airflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dag_factory.config.loader import FileError, is_pipeline_file, load_pipelines
from dag_factory.config.model import Pipeline
from dag_factory.config.schedules import cron_of

DEFAULT_BASES = ("main", "origin/main", "master", "origin/master")


class DiffError(Exception):
    """A usage problem (not a git repository, unknown ref): exit 2."""


# ---------------------------------------------------------------- facts about one pipeline (shared with `docs`)


@lru_cache(maxsize=256)
def cron_words(expr: str) -> str:
    try:
        from cron_descriptor import get_description

        return get_description(expr)
    except Exception:  # a description is a nicety
        return expr


def schedule_text(p: Pipeline) -> str:
    if p.after:
        return f"after {', '.join(p.after)} (asset-triggered)"
    if p.schedule is None:
        return "manual runs only"
    return f"{p.schedule} ({cron_words(cron_of(p.schedule))}, {p.timezone})"


def source_text(p: Pipeline) -> str:
    s = p.source
    kind = getattr(s, "type", "sql")
    prefix = "" if kind == "sql" else f"{kind} "
    table = getattr(s, "table", None)
    if table:
        cols = getattr(s, "columns", None)
        return f"{prefix}{s.conn_id}.{table}" + (f" (columns {', '.join(cols)})" if cols else "")
    query_file = getattr(s, "query_file", None)
    if query_file:
        return f"{prefix}{s.conn_id}: query file {query_file}"
    if getattr(s, "query", None):
        return f"{prefix}{s.conn_id}: inline query"
    label = getattr(s, "label", None)  # http: the endpoint, file: the path glob
    return f"{prefix}{s.conn_id}: {label}" if label else f"{prefix}{s.conn_id}"


def load_text(p: Pipeline) -> str:
    load = p.load
    parts = [load.mode]
    if load.cursor:
        parts.append(f"cursor {load.cursor}")
    if load.primary_key:
        parts.append(f"key ({', '.join(load.primary_key)})")
    return ", ".join(parts)


def lake_text(p: Pipeline) -> str:
    if p.in_warehouse:
        return "none (runs inside the warehouse)"
    return f"{p.lake.conn_id}:{p.lake.path}" if p.lake else "none (local staging)"


def target_text(p: Pipeline) -> str:
    return f"{p.target.conn_id}.{p.target.table}"


def task_ids(p: Pipeline) -> list[str]:
    """The task ids dag_factory.airflow.builder creates, computed without Airflow."""
    ids = []
    if not p.in_warehouse:
        if getattr(p.source, "wait", None) is not None:  # a file source that waits for late files
            ids.append("extract.wait_for_files")
        ids.append("extract.to_lake")
    return [*ids, "load.stage", *(f"load.checks.{c.name}" for c in p.checks), "load.publish"]


def dag_tags(p: Pipeline) -> list[str]:
    """The DAG's tags as builder.tags_for makes them."""
    base = [p.load.mode, f"source:{p.source.conn_id}", f"target:{p.target.conn_id}"]
    if p.in_warehouse:
        base.append("transform")
    return list(dict.fromkeys(base + list(p.tags)))


def _channel(c) -> str:
    return f"{c.kind} {c.conn_id}" if c.conn_id else f"email {', '.join(c.addresses)}"


def alert_facts(p: Pipeline) -> dict[str, str]:
    a = p.alerts
    return {
        "on failure": ", ".join(map(_channel, a.on_failure)) or "none",
        "on success": ", ".join(map(_channel, a.on_success)) or "none",
        "deadline": str(a.deadline) if a.deadline else "none",
    }


def check_facts(p: Pipeline) -> dict[str, str]:
    return {f"load.checks.{c.name}": c.describe() + (f" [{' '.join(c.sql.split())}]" if c.sql else "") for c in p.checks}


_HANDLED = {
    "name", "version", "description", "owner", "tags", "schedule", "timezone", "start_date", "end_date", "catchup",
    "max_active_runs", "source", "load", "lake", "target", "checks", "alerts", "retries", "retry_delay", "timeout",
}  # fmt: skip
_HANDLED_SOURCE = {"type", "conn_id", "table", "query", "query_file", "columns", "endpoint", "path"}  # in source_text


def _flatten(value: Any, prefix: str) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(value, default=str, sort_keys=True)}


def settings(p: Pipeline) -> dict[str, str]:
    """Everything else that shapes the DAG, as display strings (new keys appear generically)."""
    out = {
        "description": p.description or "",
        "owner": p.owner,
        "tags": ", ".join(p.tags) or "none",  # the generated ones follow from load type, source and target
        "start_date": p.start_date.isoformat(),
        "end_date": p.end_date.isoformat() if p.end_date else "none",
        "catchup": str(p.catchup).lower(),
        "max_active_runs": str(p.max_active_runs),
        "retries": str(p.retries),
        "retry_delay": str(p.retry_delay),
        "timeout": str(p.timeout),
    }
    resolved = p.resolved or {}
    for key, value in resolved.items():
        if key == "source" and isinstance(value, dict):
            out.update(_flatten({k: v for k, v in value.items() if k not in _HANDLED_SOURCE}, "source"))
        elif key not in _HANDLED:
            out.update(_flatten(value, key))
    return out


@dataclass
class Facts:
    """What a reviewer needs to know about one pipeline's DAG, as comparable strings."""

    name: str
    path: str
    schedule: str
    after: tuple[str, ...]
    load: str
    source: str
    query: str | None
    lake: str
    target: str
    tasks: list[str]
    checks: dict[str, str]
    alerts: dict[str, str]
    settings: dict[str, str]

    def signature(self) -> str:
        """Everything but the name and the file: equal signatures = same content."""
        d = {k: v for k, v in self.__dict__.items() if k not in ("name", "path")}
        return json.dumps(d, sort_keys=True, default=str)


def facts(p: Pipeline, path: str) -> Facts:
    return Facts(
        name=p.name,
        path=path,
        schedule=schedule_text(p),
        after=tuple(p.after),
        load=load_text(p),
        source=source_text(p),
        query=getattr(p.source, "query", None),
        lake=lake_text(p),
        target=target_text(p),
        tasks=task_ids(p),
        checks=check_facts(p),
        alerts=alert_facts(p),
        settings=settings(p),
    )


@dataclass
class Change:
    aspect: str  # schedule, after, load, source, lake, target, tasks, checks, alerts, settings
    text: str


MODE_CHANGE_NOTES = {
    ("snapshot", "full_refresh"): "; the first full_refresh run replaces the whole table, dropping the snapshot history",
    ("incremental", "full_refresh"): "; the first full_refresh run replaces the whole table with the source's current rows",
    ("snapshot", "incremental"): "; its snapshot_date column and older snapshots stay unless the table is rebuilt",
    ("incremental", "snapshot"): "; snapshot loads add a snapshot_date column: rebuild the table if its shape differs",
    ("full_refresh", "snapshot"): "; snapshot loads add a snapshot_date column: rebuild the table if its shape differs",
}


def compare(old: Facts, new: Facts) -> list[Change]:
    out: list[Change] = []

    def arrow(aspect: str, a: str, b: str, label: str | None = None) -> None:
        if a != b:
            out.append(Change(aspect, f"{label or aspect}: {a} -> {b}"))

    if old.after != new.after:
        added = [u for u in new.after if u not in old.after]
        removed = [u for u in old.after if u not in new.after]
        if old.after and new.after:
            parts = ([f"now also waits for {', '.join(added)}"] if added else []) + (
                [f"no longer waits for {', '.join(removed)}"] if removed else []
            )
            out.append(Change("after", "after: " + "; ".join(parts)))
        else:
            arrow("schedule", old.schedule, new.schedule)
    else:
        arrow("schedule", old.schedule, new.schedule)
    arrow("load", old.load, new.load, "load type")
    old_mode, new_mode = old.load.split(",")[0], new.load.split(",")[0]
    if old_mode != new_mode:
        note = MODE_CHANGE_NOTES.get((old_mode, new_mode), "")
        out.append(Change("load", f"load type change: the existing {new.target} was written by {old_mode} loads{note}"))
    arrow("source", old.source, new.source)
    if old.source == new.source and old.query != new.query:
        out.append(Change("source", f"source: the query text changed ({_lines(old.query)} -> {_lines(new.query)} lines)"))
    arrow("lake", old.lake, new.lake)
    if old.target != new.target:
        out.append(
            Change(
                "target",
                f"target: {old.target} -> {new.target} (the new table is created on the first run; "
                f"{old.target} is no longer loaded, not dropped)",
            )
        )
    added = [t for t in new.tasks if t not in old.tasks]
    removed = [t for t in old.tasks if t not in new.tasks]
    if added or removed:
        parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
        out.append(Change("tasks", "tasks: " + "; ".join(parts)))
    for name, text in new.checks.items():
        if name not in old.checks:
            out.append(Change("checks", f"check added: {name}: {text}"))
        elif old.checks[name] != text:
            out.append(Change("checks", f"check changed: {name}: {old.checks[name]} -> {text}"))
    for name, text in old.checks.items():
        if name not in new.checks:
            out.append(Change("checks", f"check removed: {name}: {text}"))
    for key in new.alerts:
        arrow("alerts", old.alerts.get(key, "none"), new.alerts[key], f"alerts {key}")
    for key in sorted(set(old.settings) | set(new.settings)):
        arrow("settings", old.settings.get(key, "(unset)"), new.settings.get(key, "(unset)"), key)
    return out


def _lines(text: str | None) -> int:
    return len((text or "").strip().splitlines())


def one_line_summary(f: Facts) -> str:
    checks = f", {len(f.checks)} check{'s' if len(f.checks) != 1 else ''}" if f.checks else ""
    return f"{f.load.split(',')[0]} {f.source} -> {f.target}; schedule {f.schedule}; tasks {', '.join(f.tasks)}{checks}"


# ---------------------------------------------------------------- git


def _git(args: list[str], cwd: Path, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    if proc.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _resolve(ref: str, cwd: Path) -> str | None:
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd).decode().strip() or None
    except DiffError:
        return None


def base_commit(ref: str | None, top: Path) -> tuple[str, str]:
    """(commit sha, how to describe it)."""
    if ref:
        sha = _resolve(ref, top)
        if not sha:
            raise DiffError(f"unknown git ref {ref!r}")
        return sha, f"{ref} ({sha[:10]})"
    if not _resolve("HEAD", top):
        raise DiffError("the repository has no commits yet; give a BASE_REF")
    for candidate in DEFAULT_BASES:
        if _resolve(candidate, top):
            try:
                sha = _git(["merge-base", "HEAD", candidate], top).decode().strip()
            except DiffError:
                continue
            return sha, f"merge base of HEAD and {candidate} ({sha[:10]})"
    raise DiffError(f"none of {', '.join(DEFAULT_BASES)} exists; give a BASE_REF (a branch, tag or commit)")


def materialize(commit: str, top: Path, prefix: str, dest: Path) -> bool:
    """Write the files under `prefix` at `commit` into dest/prefix; False if the folder did not exist."""
    listing = _git(["ls-tree", "-r", "-z", commit, "--", prefix or "."], top)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":  # files only: no symlinks or submodules
            entries.append((sha.decode(), path.decode()))
    if not entries:
        return False
    out = _git(["cat-file", "--batch"], top, input=b"".join(f"{sha}\n".encode() for sha, _ in entries))
    pos = 0
    for _sha, path in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return True


# ---------------------------------------------------------------- the two sides


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

    def rel_of(self, shown: str) -> str:
        prefix = f"{self.shown_root}/" if self.shown_root else ""
        return shown[len(prefix) :] if prefix and shown.startswith(prefix) else shown


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
        query_file = getattr(p.source, "query_file", None)
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
        a, b = base.files.get(rel), head.files.get(rel)
        if a != b:
            report.other_files.append((head.shown(rel), "added" if a is None else "removed" if b is None else "modified"))
    return report


# ---------------------------------------------------------------- rendering


def _removed_note(f: Facts) -> str:
    return f"the DAG disappears from Airflow (its run history stays in the metadata DB); {f.target} is no longer loaded (not dropped)"


def _rename_note(a: Facts, b: Facts) -> str:
    if a.name == b.name:
        return f"moved {a.path} -> {b.path}; same DAG id"
    return f"new DAG id {b.name}: Airflow starts it without history and the DAG {a.name} disappears ({a.path} -> {b.path})"


def render_text(r: Report) -> str:
    lines = [f"dag-factory diff: {r.base_label} -> {r.head_label} (environment {r.env})"]
    if r.empty:
        lines.append(f"no pipeline changes ({r.unchanged} unchanged)")
        if r.still_invalid:
            lines.append(f"still invalid, untouched by this change: {', '.join(r.still_invalid)}")
        return "\n".join(lines) + "\n"
    lines.append(_counts(r))
    for f in r.added:
        lines += ["", f"added    {f.name} ({f.path})", f"  {one_line_summary(f)}"]
    for f in r.removed:
        lines += ["", f"removed  {f.name} ({f.path})", f"  {_removed_note(f)}"]
    for a, b, changes in r.renamed:
        kind = "moved" if a.name == b.name else "renamed"
        lines += ["", f"{kind:<8} {a.name} -> {b.name}", f"  {_rename_note(a, b)}"]
        lines += [f"  {c.text}" for c in changes] or ["  no other change"]
    for f, changes in r.changed:
        lines += ["", f"changed  {f.name} ({f.path})"] + [f"  {c.text}" for c in changes]
    for path, status, error in r.invalid:
        lines += ["", f"invalid  {path}: {status}", f"  {error}"]
    if r.other_files:
        lines += ["", "other files: " + ", ".join(f"{p} ({s})" for p, s in r.other_files)]
    if r.still_invalid:
        lines += ["", f"still invalid, untouched by this change: {', '.join(r.still_invalid)}"]
    return "\n".join(lines) + "\n"


def _counts(r: Report) -> str:
    parts = [
        (len(r.added), "added"),
        (len(r.removed), "removed"),
        (sum(1 for a, b, _ in r.renamed if a.name != b.name), "renamed"),
        (sum(1 for a, b, _ in r.renamed if a.name == b.name), "moved"),
        (len(r.changed), "changed"),
        (len(r.invalid), "invalid"),
        (r.unchanged, "unchanged"),
    ]
    return ", ".join(f"{n} {what}" for n, what in parts if n or what == "unchanged")


def _md(text: str) -> str:
    """Plain text safe inside a Markdown table cell or list item."""
    text = text.replace(" -> ", " \u2192 ")
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def render_markdown(r: Report) -> str:
    out = [f"### Pipelines: {_md(r.base_label)} \u2192 {_md(r.head_label)}", ""]
    if r.empty:
        out.append(f"No pipeline changes ({r.unchanged} unchanged, environment `{r.env}`).")
        if r.still_invalid:
            out += ["", "Still invalid, untouched by this change: " + ", ".join(map(_code, r.still_invalid))]
        return "\n".join(out) + "\n"
    out += [f"**{_counts(r)}** (environment `{r.env}`)", "", "| change | pipeline | what it does in Airflow |", "|---|---|---|"]
    for f in r.added:
        out.append(f"| added | {_code(f.name)} | new DAG: {_md(one_line_summary(f))} |")
    for f in r.removed:
        out.append(f"| removed | {_code(f.name)} | {_md(_removed_note(f))} |")
    for a, b, changes in r.renamed:
        kind = "moved" if a.name == b.name else "renamed"
        what = _rename_note(a, b) + (f"; {len(changes)} other change{'s' if len(changes) != 1 else ''}" if changes else "")
        out.append(f"| {kind} | {_code(a.name)} \u2192 {_code(b.name)} | {_md(what)} |")
    for f, changes in r.changed:
        aspects = list(dict.fromkeys(c.aspect for c in changes))
        out.append(f"| changed | {_code(f.name)} | {_md(', '.join(aspects))} |")
    for path, status, error in r.invalid:
        out.append(f"| **invalid** | {_code(path)} | {_md(status)}: {_code(error)} |")
    for a, b, changes in r.renamed:
        if changes:
            out += ["", f"#### {_code(a.name)} \u2192 {_code(b.name)}", ""] + [
                f"- **{c.aspect}** - {_md(c.text)}" for c in changes
            ]
    for f, changes in r.changed:
        out += ["", f"#### {_code(f.name)} ({_md(f.path)})", ""] + [f"- **{c.aspect}** - {_md(c.text)}" for c in changes]
    if r.other_files:
        out += ["", "Other files: " + ", ".join(f"{_code(p)} ({s})" for p, s in r.other_files)]
    if r.still_invalid:
        out += ["", "Still invalid, untouched by this change: " + ", ".join(map(_code, r.still_invalid))]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the command


def diff(base_ref: str | None, pipelines: Path, env: str | None = None) -> Report:
    from dag_factory.config.loader import active_env

    env = env or active_env()
    start = pipelines.resolve() if pipelines.exists() else pipelines.parent.resolve()
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], start).decode().strip()).resolve()
    except DiffError:
        raise DiffError(f"{start} is not inside a git repository") from None
    try:
        prefix = pipelines.resolve().relative_to(top).as_posix()
    except ValueError:
        raise DiffError(f"{pipelines} is not inside the repository {top}") from None
    prefix = "" if prefix == "." else prefix
    commit, label = base_commit(base_ref, top)
    with tempfile.TemporaryDirectory(prefix="dagf-diff-") as tmp:
        materialize(commit, top, prefix, Path(tmp))
        base_root = Path(tmp) / prefix if prefix else Path(tmp)
        base = load_side(label, base_root, prefix, env)
    head = load_side("working tree", pipelines, prefix, env)
    return build_report(base, head, env)


def diff_command(base_ref: str | None, fmt: str = "text", pipelines: str | None = None, env: str | None = None) -> int:
    from dag_factory.cli.common import pipelines_dir

    try:
        report = diff(base_ref, pipelines_dir(pipelines), env)
    except DiffError as exc:
        print(f"dag-factory diff: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown(report) if fmt == "markdown" else render_text(report))
    return 0
