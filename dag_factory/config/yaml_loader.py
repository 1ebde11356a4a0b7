"""Safe YAML loading that remembers where every value came from.

We compose the node tree (never construct arbitrary objects) and build plain
Python values ourselves, so that:
- no tag can run code (`!!python/object` & co. are refused, not constructed),
- duplicate keys are errors, not silent overwrites,
- alias expansion is bounded (a "billion laughs" file fails fast),
- every key path keeps the file/line/column it was written at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml
from yaml.constructor import SafeConstructor

from dag_factory.config.yaml_hints import syntax_problem
from dag_factory.errors import ConfigError, Problem

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
try:  # libyaml when available: several times faster on big trees
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML build
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_PROBLEMS = 50  # reported per file; the rest are summarized in one line
MAX_CHARS = 2_000_000  # text of all scalars after alias expansion: an alias to a big string counts every time

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    _TIMESTAMP,
}

KeyPath = tuple[Any, ...]
VALUE = "<value>"  # marks[path + (VALUE,)] is where the value of `path` starts (marks[path]: its key)


class Mark(NamedTuple):
    """Where a value was written: 1-based line and column in `file` (a tuple: cheap to make)."""

    file: str
    line: int
    column: int


@dataclass
class LocatedDoc:
    """A loaded document plus the position of every key path in it."""

    data: Any
    marks: dict[KeyPath, Mark]
    file: str
    lines: list[str]

    def mark_for(self, path: KeyPath) -> Mark:
        return nearest_mark(self.marks, path) or Mark(self.file, 1, 1)


def nearest_mark(marks: dict[KeyPath, Mark], path: KeyPath) -> Mark | None:
    """The mark of `path`, or of its nearest ancestor that has one."""
    path = tuple(path)
    while True:
        if path in marks:
            return marks[path]
        if not path:
            return None
        path = path[:-1]


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[KeyPath, Mark] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.chars = 0
        self._scalars = SafeConstructor()

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: yaml.Node, message: str, path: KeyPath) -> None:
        m = self.mark(node)
        self.problems.append(Problem(self.file, m.line, m.column, message, _dotted(path)))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        self.marks.setdefault(path, self.mark(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.fail(node, f"YAML tag {node.tag!r} is not allowed", path)
                return None
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return self._scalar(cast(yaml.ScalarNode, node), path)  # the only other kind of node

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any] | None:
        if node.tag != _MAP:
            self.fail(node, f"YAML tag {node.tag!r} is not allowed", path)
            return None
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, "YAML merge keys ('<<') are not supported; use _defaults.yaml", path)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.fail(key_node, "keys must be plain strings", path)
                continue
            key = key_node.value
            if key in out:
                first = self.marks.get(path + (key,))
                where = f" (first at line {first.line})" if first else ""
                self.fail(key_node, f"duplicate key {key!r}{where}", path + (key,))
                continue
            self.marks[path + (key,)] = self.mark(key_node)
            self.marks[path + (key, VALUE)] = self.mark(value_node)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        self.chars += len(node.value)
        if self.chars > MAX_CHARS:
            raise _TooBig(node, f"document expands to more than {MAX_CHARS} characters of text (alias bomb?)")
        if node.tag not in _SCALAR_TAGS:
            self.fail(node, f"YAML tag {node.tag!r} is not allowed (YAML here is data, never code)", path)
            return None
        if node.tag == _TIMESTAMP:
            return node.value  # dates stay text; the schema checks their format
        try:
            return self._scalars.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            self.fail(node, f"bad scalar: {exc}", path)
            return None


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, message: str = f"document expands to more than {MAX_NODES} values (alias bomb?)") -> None:
        self.node = node
        self.message = message


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_text(text: str, file: str) -> LocatedDoc:
    """Parse YAML text into a LocatedDoc; raise ConfigError listing every problem."""
    lines = text.splitlines()
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([syntax_problem(exc, text, file)]) from None
    except yaml.reader.ReaderError as exc:  # a control character: no mark, but a position in the text
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ConfigError([Problem(file, line, col, f"YAML error: unacceptable character {what}: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 1, 1, f"YAML error: {exc}")]) from None
    if node is None:
        raise ConfigError([Problem(file, 1, 1, "file is empty; a pipeline needs at least 'name', 'source', 'load' and 'target'")])
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except _TooBig as big:
        m = builder.mark(big.node)
        raise ConfigError([Problem(file, m.line, m.column, big.message)]) from None
    if builder.problems:
        shown = builder.problems[:MAX_PROBLEMS]
        if len(builder.problems) > MAX_PROBLEMS:  # 100,000 bad tags: report 50, not 100,000
            last = shown[-1]
            more = len(builder.problems) - MAX_PROBLEMS
            shown.append(Problem(file, last.line, last.column, f"{more} more problems like these not shown; fix these first"))
        raise ConfigError(shown)
    return LocatedDoc(data, builder.marks, file, lines)


def load_file(path: Path, display: str | None = None) -> LocatedDoc:
    """Read and parse one YAML file, refusing oversized and non-UTF-8 input."""
    file = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([Problem(file, 1, 1, f"file is {size} bytes; pipeline files are limited to {MAX_FILE_BYTES}")])
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(file, 0, 0, f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigError([Problem(file, line, col, f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return load_text(text, file)
