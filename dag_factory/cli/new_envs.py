"""The `environments:` block a new pipeline needs where a _defaults.yaml switches its warehouse.

The example repository's prod target is Redshift, which loads from an S3 lake: a new file
without a prod lake would fail lint (and its first prod run). `new` asks the same capabilities
lint asks, and adds the override a person would write: the environment's S3 lake, or, for a
transform, the source following the warehouse.
"""

from __future__ import annotations

from pathlib import Path

from dag_factory.cli.lint_capabilities import connection_kind
from dag_factory.cli.new_spec import Spec
from dag_factory.config.connections_file import load_declared
from dag_factory.config.loader import environment_names, load_located
from dag_factory.engine.warehouses.capabilities import capabilities_for
from dag_factory.errors import DagFactoryError


def environment_overrides(spec: Spec, path: Path, root: Path) -> list[str]:
    """YAML lines (an `environments:` block) for the file already written at `path`; [] when none is needed."""
    try:
        declared = load_declared(root)
    except DagFactoryError:
        return []  # lint reports the connections file itself
    lines: list[str] = []
    for env in sorted(environment_names(path, root)):
        try:
            p, _ = load_located(path, root, env)
        except DagFactoryError:
            continue
        if p.target.conn_id == spec.target_conn:
            continue  # same warehouse as written
        if spec.source_conn == spec.target_conn:
            lines += [
                f"  {env}:".ljust(31) + f" # the warehouse is {p.target.conn_id} here: the transform runs inside it",
                f"    source: {{conn_id: {p.target.conn_id}}}",
            ]
            continue
        kind = connection_kind(p.target.conn_id, env, declared)
        try:
            caps = capabilities_for(kind) if kind else None
        except DagFactoryError:
            caps = None
        needs_lake = caps is not None and ("stream" not in caps.loads_from or declared.distributed(env))
        s3 = sorted(c for c in declared.ids(env) if connection_kind(c, env, declared) == "aws" and c != p.target.conn_id)
        lake_ok = p.lake is not None and connection_kind(p.lake.conn_id, env, declared) == "aws"
        if not lake_ok and needs_lake and s3:
            lake_path = spec.lake_path or f"raw/{spec.name}"
            lines += [
                f"  {env}:".ljust(31) + f" # {caps.name if caps else p.target.conn_id} loads from the S3 lake here",
                f"    lake: {{conn_id: {s3[0]}, path: {lake_path}}}",
            ]
    return ["environments:", *lines] if lines else []
