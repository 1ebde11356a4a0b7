"""YAML syntax errors told where they began, with a way out.

PyYAML reports where its parser gave up, which is often lines after the mistake: an
unclosed quote on line 7 swallows text up to the next quote and fails at 10:12. We point
at where the problem began (PyYAML's context mark, or the quote that never closes on
its line, found by closing it and parsing again) and add the fix an analyst needs
("quote values starting with @", "line this key up with the ones above").
"""

from __future__ import annotations

import re

import yaml

from dag_factory.errors import Problem

# contexts that name a real beginning; "while parsing a block mapping" points at the mapping's first key
_BEGINNINGS = (
    "while scanning a quoted scalar",
    "while parsing a flow",
    "while scanning an alias",
    "while scanning a block scalar",
)
_QUOTE_START = re.compile(r"""^(\s*(?:-\s+)*(?:[^\s#'"{\[][^#]*?:\s+)?)(["'])""")
_RESERVED = {"@": "'@'", "`": "'`'", "%": "'%'", "*": "'*' (YAML reads it as an alias)", "&": "'&' (YAML reads it as an anchor)"}
_OPENERS = {"flow mapping": "{", "flow sequence": "[", "quoted scalar": "quote"}
_OPENERS_CLOSE = {"{": "}", "[": "]", "quote": "the same quote"}


def syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """One Problem for a YAML syntax error: at the place it began, with a hint."""
    lines = text.splitlines()
    mark = exc.problem_mark or exc.context_mark
    pline, pcol = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = str(exc.problem or exc.context or "invalid YAML")
    stopped = f"{what} (the parser stopped at line {pline}, column {pcol})"
    current = lines[pline - 1] if 0 < pline <= len(lines) else ""

    if "\t" in current:
        return Problem(file, pline, pcol, f"YAML syntax error: {what}", hint="tabs are not allowed for indentation; use spaces")

    opened = _unclosed_quote(lines, pline, pcol)
    if opened:
        line, col, quote = opened
        return Problem(
            file,
            line,
            col,
            f"YAML syntax error: the {quote} opened here is not closed on this line; {stopped}",
            hint=f"end the value with {quote} on this line (a value may not span lines unless it is a block: `key: |`)",
        )

    value_at = _value_start(current)
    starts_reserved = 0 <= value_at < len(current) and current[value_at] in _RESERVED
    if starts_reserved and "undefined alias" in what:
        value = current[value_at:].split(" #")[0].rstrip()
        return Problem(file, pline, pcol, f"YAML syntax error: {what}", hint=f'if {value} is text, quote it: "{value}"')
    scanning = str(exc.context or "").startswith(
        ("while scanning an alias", "while scanning an anchor", "while scanning for the next")
    )
    if starts_reserved and scanning and pcol - 1 in (value_at, value_at + 1):
        char = current[value_at]
        key_part, value = current[:value_at], current[value_at:].split(" #")[0].rstrip()
        return Problem(
            file,
            pline,
            value_at + 1,
            f"YAML syntax error: a value cannot start with {_RESERVED[char]} unquoted",
            hint=f'quote it: {key_part}"{value}"',
        )

    after_quote = _text_after_closing_quote(current)
    if after_quote is not None and pcol - 1 >= after_quote:
        return Problem(
            file,
            pline,
            pcol,
            f"YAML syntax error: text after the closing quote; {what}",
            hint="to put a quote inside a quoted value, double it ('it''s') or use the other kind (\"it's\")",
        )

    context = str(exc.context or "")
    if exc.context_mark is not None and context.startswith(_BEGINNINGS):
        cm = exc.context_mark
        opener = next((o for kind, o in _OPENERS.items() if kind in context), None)
        if opener:
            return Problem(
                file,
                cm.line + 1,
                cm.column + 1,
                f"YAML syntax error: the {opener} opened here is not closed; {stopped}",
                hint=f"close it with {_OPENERS_CLOSE[opener]} before the next key",
            )
        return Problem(file, cm.line + 1, cm.column + 1, f"YAML syntax error: {context}: {stopped}")

    hint = _indent_hint(lines, pline, pcol, what)
    if hint.startswith("the value contains"):
        pcol = current.find(": ") + 3
    elif "indented more than" in hint:  # the mistake is the indentation, not the colon PyYAML stopped at
        pcol = _indent(current) + 1
    return Problem(file, pline, pcol, f"YAML syntax error: {what}", hint=hint)


def _unclosed_quote(lines: list[str], pline: int, pcol: int) -> tuple[int, int, str] | None:
    """(line, column, quote) of the last quote before the failure that does not close on its
    own line and whose closing quote (the scanner's) is on the failing line, before the failure."""
    for i in range(min(pline, len(lines)) - 1, -1, -1):
        m = _QUOTE_START.match(lines[i])
        if not m or _closing(lines[i], m.end()) is not None:
            continue
        quote, rest = m.group(2), "\n".join([lines[i][m.end() :], *lines[i + 1 :]])
        close = _closing(quote + rest, 1)
        if close is None:
            return i + 1, m.end(), quote
        end_line = i + 1 + (quote + rest)[:close].count("\n")
        end_col = close - (quote + rest)[:close].rfind("\n") if end_line > i + 1 else None
        if end_line == pline and (end_col is None or end_col < pcol):
            return i + 1, m.end(), quote
        return None  # the nearest open quote closes elsewhere: not the cause
    return None


def _closing(line: str, start: int) -> int | None:
    """Index of the quote that closes the one just before `start`, or None."""
    quote = line[start - 1]
    i = start
    while i < len(line):
        ch = line[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and line[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return None


def _value_start(line: str) -> int:
    """Where the value of a `key: value` or `- value` line starts; -1 for a line without one."""
    m = re.match(r"^(\s*(?:-\s+)*(?:[^\s#'\"][^#]*?:\s+)?)\S", line)
    return m.end(1) if m and m.end(1) > 0 else -1


def _text_after_closing_quote(line: str) -> int | None:
    m = _QUOTE_START.match(line)
    if not m:
        return None
    close = _closing(line, m.end())
    return None if close is None else close + 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _indent_hint(lines: list[str], pline: int, pcol: int, what: str) -> str:
    """Explain an indentation mistake: a key between two levels, or deeper than its siblings."""
    if not 0 < pline <= len(lines):
        return ""
    current = lines[pline - 1]
    first_colon = current.find(": ")
    if "mapping values are not allowed" in what and 0 <= first_colon < pcol - 2:  # a second ': ': inside the value
        value = current[first_colon + 2 :].strip()
        return f'the value contains ": "; quote it: {current[: first_colon + 2].strip()} "{value}"'
    before = [ln for ln in lines[: pline - 1] if ln.strip() and not ln.lstrip().startswith("#")]
    if not before:
        return ""
    mine, above = _indent(current), before[-1]
    key = current.strip().split(":")[0]
    if "mapping values are not allowed" in what:
        if mine > _indent(above):
            return f"'{key}:' is indented more than the line above; line it up with the keys above it ({_indent(above)} spaces)"
        return ""
    levels = sorted({_indent(ln) for ln in before if _indent(ln) <= _indent(above)}, reverse=True)
    if mine in levels:
        return ""
    options = []
    for n in levels:
        parent = next((ln for ln in reversed(before) if _indent(ln) < n), None)
        where = f"under '{parent.strip().split(':')[0]}:'" if parent is not None and n else "a top-level key"
        options.append(f"{n} spaces ({where})")
    spaces = "1 space" if mine == 1 else f"{mine} spaces"
    return f"'{key}' is indented {spaces}, which lines up with no key above; use " + " or ".join(options)
