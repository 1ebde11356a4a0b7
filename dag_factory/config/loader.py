"""Find pipeline files, layer them with their _defaults.yaml and environments, validate them.

Every file ends up either as a Pipeline (typed by config/build.py) or as a FileError;
one bad file never stops the others from loading.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dag_factory.config.build import build_pipeline
from dag_factory.config.cache import ConfigCache
from dag_factory.config.crossfile import at_mark, cross_file_problems
from dag_factory.config.merge import merge_layers
from dag_factory.config.model import Pipeline
from dag_factory.config.semantic import semantic_problems
from dag_factory.config.validate import schema_problems
from dag_factory.config.yaml_loader import VALUE, LocatedDoc, Mark, load_file
from dag_factory.errors import ConfigError, Problem

log = logging.getLogger(__name__)

DEFAULTS_FILE = "_defaults.yaml"
DEFAULT_ENV = "local"


def active_env() -> str:
    return os.environ.get("DAG_FACTORY_ENV", DEFAULT_ENV)


@dataclass
class FileError:
    """A pipeline file that could not be turned into a Pipeline."""

    path: Path
    error: ConfigError

    @property
    def dag_id(self) -> str:
        """A stable id for the placeholder DAG: the file stem, made id-safe."""
        stem = re.sub(r"[^a-z0-9_]", "_", self.path.stem.lower()) or "pipeline"
        return stem if re.match(r"^[a-z]", stem) else f"p_{stem}"


@dataclass
class LoadResult:
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for e in self.errors for p in e.error.problems]


def is_pipeline_file(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and not path.name.startswith("_")


def discover(root: Path) -> list[Path]:
    """Every pipeline file under `root`, sorted; folders and files starting with '_' or '.' are skipped."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if is_pipeline_file(Path(f)) and not f.startswith("."))
    return found


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it.
    (String operations only: resolving symlinks per file cost a tenth of a millisecond.)"""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.getcwd())
    return absolute if relative.startswith("..") else relative


class _DefaultsCache:
    """Each _defaults.yaml is read once per load, however many pipelines sit below it."""

    def __init__(self) -> None:
        self._docs: dict[Path, LocatedDoc | ConfigError | None] = {}
        self._raw: dict[Path, bytes | None] = {}
        self._real: dict[Path, Path] = {}
        self._chains: dict[tuple[Path, Path], list[tuple[str, bytes]]] = {}

    def real(self, path: Path) -> Path:
        """path.resolve(), with folders resolved once per load (each resolve is an lstat per
        path component, for every one of thousands of files in a few folders)."""
        if path not in self._real:
            self._real[path] = path.resolve()
        return self._real[path]

    def real_folder(self, path: Path) -> Path:
        """path.resolve().parent: a symlinked file resolves to its target's folder."""
        return path.resolve().parent if os.path.islink(path) else self.real(path.parent)

    def raw_chain(self, root: Path, folder: Path) -> list[tuple[str, bytes]]:
        """(path, bytes) of the defaults files that apply: what a cache key depends on.
        Computed once per folder: thousands of files share a few."""
        if (root, folder) not in self._chains:
            self._chains[(root, folder)] = self._raw_chain(root, folder)
        return self._chains[(root, folder)]

    def _raw_chain(self, root: Path, folder: Path) -> list[tuple[str, bytes]]:
        out = []
        for f in self._folders(root, folder):
            path = f / DEFAULTS_FILE
            if path not in self._raw:
                try:
                    self._raw[path] = path.read_bytes()
                except OSError:
                    self._raw[path] = None
            raw = self._raw[path]
            if raw is not None:
                out.append((str(path), raw))
        return out

    @staticmethod
    def _folders(root: Path, folder: Path) -> list[Path]:
        folders = [folder]
        while folders[-1] != root and root in folders[-1].parents:
            folders.append(folders[-1].parent)
        return list(reversed(folders))

    def chain(self, root: Path, folder: Path) -> list[LocatedDoc]:
        docs = []
        for f in self._folders(root, folder):
            doc = self._get(f / DEFAULTS_FILE)
            if isinstance(doc, ConfigError):
                raise doc
            if doc is not None:
                docs.append(doc)
        return docs

    def _get(self, path: Path) -> LocatedDoc | ConfigError | None:
        if path not in self._docs:
            if not path.is_file():
                self._docs[path] = None
            else:
                try:
                    doc = load_file(path, display_path(path))
                    if not isinstance(doc.data, dict):
                        raise ConfigError([Problem(doc.file, 1, 1, "a _defaults.yaml file must be a mapping of keys")])
                    self._docs[path] = doc
                except ConfigError as exc:
                    self._docs[path] = exc
        return self._docs[path]


def load_pipeline(path: Path, root: Path, env: str | None = None) -> Pipeline:
    """Load one file into a Pipeline or raise ConfigError with every problem found."""
    return _load_one(path, root, env or active_env(), _DefaultsCache())[0]


def load_located(path: Path, root: Path, env: str) -> tuple[Pipeline, dict]:
    """A Pipeline and where each of its keys was written (lint's deeper checks point there)."""
    return _load_one(path, root, env, _DefaultsCache())


def environment_names(path: Path, root: Path) -> set[str]:
    """Every environment named in the pipeline file or a _defaults.yaml above it."""
    try:
        docs = [*_DefaultsCache().chain(root.resolve(), path.resolve().parent), load_file(path, display_path(path))]
    except ConfigError:
        return set()
    return _env_names(docs)


def declared_owner(path: Path, root: Path) -> str | None:
    """The owner a file that failed to load still names (its own `owner:`, else the nearest
    _defaults.yaml's), so its placeholder DAG keeps the team instead of becoming `airflow`."""
    cache, owner = _DefaultsCache(), None
    layers: list[LocatedDoc | ConfigError | None] = [
        cache._get(f / DEFAULTS_FILE) for f in cache._folders(root.resolve(), path.resolve().parent)
    ]
    try:
        layers.append(load_file(path, display_path(path)))
    except ConfigError:
        pass
    for doc in layers:
        value = doc.data.get("owner") if isinstance(doc, LocatedDoc) and isinstance(doc.data, dict) else None
        if isinstance(value, str) and 0 < len(value.strip()) <= 100:
            owner = value.strip()
    return owner


def _read_query_file(data: dict[str, Any], marks: dict, path: Path, root: Path, shown: str) -> list[Problem]:
    """Inline `source.query_file` (relative to the pipeline's folder, inside the pipelines root)."""
    source = data["source"]
    name = source.get("query_file")
    if not name:
        return []
    mark = marks.get(("source", "query_file", VALUE), Mark(shown, 1, 1))
    file = (path.parent / name).resolve()
    if root.resolve() not in file.parents:
        return [
            Problem(
                mark.file, mark.line, mark.column, f"query_file {name!r} is outside the pipelines folder", "source.query_file"
            )
        ]
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else f"cannot be read ({exc})"
        return [
            Problem(
                mark.file,
                mark.line,
                mark.column,
                f"query_file {name!r} {why} (looked for {display_path(file)})",
                "source.query_file",
            )
        ]
    if not text.strip():
        return [Problem(mark.file, mark.line, mark.column, f"query_file {name!r} is empty", "source.query_file")]
    source["query"] = text
    source["query_file"] = display_path(file)
    return []


def _env_names(docs: list[LocatedDoc]) -> set[str]:
    names: set[str] = set()
    for doc in docs:
        envs = doc.data.get("environments") if isinstance(doc.data, dict) else None
        if isinstance(envs, dict):
            names.update(k for k in envs if isinstance(k, str))
    return names


def _other_env_problems(chain: list[LocatedDoc], doc: LocatedDoc, env: str, path: Path, shown: str) -> list[Problem]:
    """Problems that only show in another environment (a typo in `environments.prod`),
    so CI's lint catches what would break prod's DAG."""
    out = []
    for other in sorted(_env_names([*chain, doc]) - {env}):
        data, marks = merge_layers(chain, doc, other)
        for p in schema_problems(data, marks, shown) + semantic_problems(data, marks, path, shown):
            out.append(Problem(p.file, p.line, p.column, f"{p.message} (in environment {other!r})", p.key_path, p.hint))
    return out


# marks kept in the cache: the ones cross-file checks point at
_CACHED_MARKS = ("name", "schedule", "target", "source")


def _load_one(
    path: Path, root: Path, env: str, defaults: _DefaultsCache, all_envs: bool = False, cache: ConfigCache | None = None
) -> tuple[Pipeline, dict]:
    shown = display_path(path)
    key = None
    if cache is not None and not all_envs:
        try:
            raw = path.read_bytes()
        except OSError:
            raw = None
        if raw is not None:
            key = cache.key(shown, raw, env, defaults.raw_chain(defaults.real(root), defaults.real_folder(path)))
            entry = cache.get(key)
            if entry is not None:
                data = entry["data"]
                marks = {tuple(k): Mark(*m) for k, m in entry["marks"]}
                problems = _read_query_file(data, marks, path, root, shown)
                if problems:
                    raise ConfigError(problems)
                return build_pipeline(data, shown, env), marks
    doc = load_file(path, shown)
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        raise ConfigError([Problem(shown, 1, 1, f"a pipeline file must be a mapping of keys, not {kind}")])
    chain = defaults.chain(defaults.real(root), defaults.real_folder(path))
    data, marks = merge_layers(chain, doc, env)
    problems = schema_problems(data, marks, shown) + semantic_problems(data, marks, path, shown)
    if not problems and key is not None and cache is not None:
        kept = [[list(k), [m.file, m.line, m.column]] for k, m in marks.items() if k and k[0] in _CACHED_MARKS]
        cache.put(key, {"data": data, "marks": kept})  # before query_file is inlined: the file is re-read
    if not problems:
        problems += _read_query_file(data, marks, path, root, shown)
    if all_envs:
        seen = {(p.file, p.line, p.column, p.key_path) for p in problems}
        problems += [
            p for p in _other_env_problems(chain, doc, env, path, shown) if (p.file, p.line, p.column, p.key_path) not in seen
        ]
    problems.sort(key=lambda p: (p.file != shown, p.file, p.line, p.column))
    if problems:
        raise ConfigError(problems)
    return build_pipeline(data, shown, env), marks


def load_pipelines(
    root: Path,
    env: str | None = None,
    paths: list[Path] | None = None,
    all_envs: bool = False,
    cross_check: bool = True,
    cache: ConfigCache | None = None,
    known_stems: set[str] | None = None,
) -> LoadResult:
    """Load every pipeline under `root` (or just `paths`), then check what spans files:
    unique names, unique targets, `after:` names that exist and form no cycle.
    `all_envs` also checks every other environment's overrides (lint does; parsing doesn't)."""
    env = env or active_env()
    result = LoadResult()
    defaults = _DefaultsCache()
    marks: dict[str, dict] = {}
    files = discover(root) if paths is None else paths
    for path in files:
        try:
            pipeline, pipeline_marks = _load_one(path, root, env, defaults, all_envs, cache)
        except ConfigError as exc:
            result.errors.append(FileError(path, exc))
            continue
        except Exception as exc:  # broad: a bug in a check must cost one file, never every DAG of generate.py
            log.warning("internal error while checking %s", display_path(path), exc_info=True)
            problem = Problem(
                display_path(path), 1, 1, f"internal error while checking this file: {type(exc).__name__}: {exc}"[:500]
            )
            result.errors.append(FileError(path, ConfigError([problem])))
            continue
        if pipeline.name in result.pipelines:
            first = result.pipelines[pipeline.name].path
            problem = at_mark(
                pipeline_marks, ("name", VALUE), f"pipeline name {pipeline.name!r} is already used by {first}", "name"
            )
            result.errors.append(FileError(path, ConfigError([problem])))
            continue
        result.pipelines[pipeline.name] = pipeline
        marks[pipeline.name] = pipeline_marks
    if cross_check:
        if known_stems is None:  # every pipeline file's stem: `after:` may name a file that failed to load
            known_stems = (
                {p.stem for p in (files if paths is None else discover(root))} if root.is_dir() else set(result.pipelines)
            )
        known = known_stems
        for name, problems in cross_file_problems(result.pipelines, marks, known).items():
            result.errors.append(FileError(Path(result.pipelines[name].path), ConfigError(problems)))
            del result.pipelines[name]
    return result
