"""`pipelines/_connections.yaml`: what each connection id IS, per environment, without credentials.

Lint cannot see Airflow's connections (CI has none), yet "a Redshift target needs an S3 lake"
depends on what `redshift` is in prod. This file names each id's connection type (and, per
environment, whether workers are distributed), so lint can check every environment against
what its warehouse can do, and `dag-factory connections` can print a ready template for each
missing one. Credentials never go here; the secrets scan covers this file like any other.

    connections:            # conn_id: Airflow conn_type
      shop_db: sqlite
      warehouse: duckdb
    environments:
      prod:
        workers: distributed   # Celery/Kubernetes: no shared local disk between tasks
        connections: {warehouse: redshift, s3_lake: aws}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dag_factory.config.secrets import secret_problems
from dag_factory.config.yaml_loader import VALUE, LocatedDoc, Mark, load_file
from dag_factory.errors import ConfigError, Problem

FILE_NAME = "_connections.yaml"
WORKERS = ("local", "distributed")


@dataclass
class Declared:
    """Connection types and worker layout per environment ('' = every environment)."""

    file: str | None = None
    types: dict[str, dict[str, str]] = field(default_factory=dict)  # env -> conn_id -> conn_type
    workers: dict[str, str] = field(default_factory=dict)  # env -> local | distributed
    marks: dict[tuple[str, str], Mark] = field(default_factory=dict)  # (env, conn_id) -> where declared

    def conn_type(self, conn_id: str, env: str) -> str | None:
        return self.types.get(env, {}).get(conn_id) or self.types.get("", {}).get(conn_id)

    def distributed(self, env: str) -> bool:
        return self.workers.get(env, self.workers.get("", "local")) == "distributed"

    def ids(self, env: str) -> set[str]:
        return set(self.types.get("", {})) | set(self.types.get(env, {}))


def load_declared(root: Path, display: str | None = None) -> Declared:
    """The root's `_connections.yaml` (empty when absent); ConfigError names every bad entry."""
    path = root / FILE_NAME
    if not path.is_file():
        return Declared()
    doc = load_file(path, display or str(path))
    problems: list[Problem] = secret_problems(doc.data, doc.marks, doc.file)
    declared = Declared(file=doc.file)
    data = doc.data if isinstance(doc.data, dict) else None
    if data is None:
        raise ConfigError([Problem(doc.file, 1, 1, f"{FILE_NAME} must be a mapping with 'connections' and 'environments'")])
    for key in data:
        if key not in ("connections", "workers", "environments"):
            problems.append(_at(doc, (key,), f"unknown key {key!r} (allowed: connections, workers, environments)"))
    _read_layer(doc, data, (), "", declared, problems)
    envs = data.get("environments") or {}
    if not isinstance(envs, dict):
        problems.append(_at(doc, ("environments",), "environments must map environment names to their settings"))
        envs = {}
    for env, layer in envs.items():
        if not isinstance(layer, dict):
            problems.append(_at(doc, ("environments", env), f"environments.{env} must be a mapping"))
            continue
        for key in layer:
            if key not in ("connections", "workers"):
                problems.append(_at(doc, ("environments", env, key), f"unknown key {key!r} (allowed: connections, workers)"))
        _read_layer(doc, layer, ("environments", env), str(env), declared, problems)
    if problems:
        raise ConfigError(problems)
    return declared


def _read_layer(doc: LocatedDoc, layer: dict, at: tuple, env: str, out: Declared, problems: list[Problem]) -> None:
    workers = layer.get("workers")
    if workers is not None:
        if workers in WORKERS:
            out.workers[env] = workers
        else:
            problems.append(_at(doc, (*at, "workers"), f"workers must be one of: {', '.join(WORKERS)}"))
    conns = layer.get("connections") or {}
    if not isinstance(conns, dict):
        problems.append(_at(doc, (*at, "connections"), "connections must map connection ids to their conn_type"))
        return
    for conn_id, conn_type in conns.items():
        if not isinstance(conn_type, str) or not conn_type.strip():
            problems.append(_at(doc, (*at, "connections", conn_id), f"{conn_id}: give its Airflow conn_type, e.g. postgres"))
            continue
        out.types.setdefault(env, {})[str(conn_id)] = conn_type.strip().lower()
        out.marks[(env, str(conn_id))] = doc.mark_for((*at, "connections", conn_id))


def _at(doc: LocatedDoc, path: tuple, message: str) -> Problem:
    m = doc.marks.get((*path, VALUE)) or doc.mark_for(path)
    return Problem(m.file, m.line, m.column, message, ".".join(map(str, path)))
