"""`dag-factory diff` reports as text (terminal) and Markdown (a pull-request comment)."""

from __future__ import annotations

from dag_factory.cli.diff_facts import Facts, one_line_summary, review_line
from dag_factory.cli.diff_report import Report


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
        lines += ["", f"added    {f.name} ({f.path})", f"  {one_line_summary(f)}", f"  review: {review_line(f)}"]
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
        out.append(f"| added | {_code(f.name)} | new DAG: {_md(one_line_summary(f))}<br>{_md(review_line(f))} |")
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
