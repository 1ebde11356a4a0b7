"""Parse-time entry point: every pipeline file becomes a DAG or a placeholder DAG.

Airflow 3.3 marks every DAG of a file stale when the file raises, and records no
per-DAG errors, so nothing here may raise for one bad pipeline: each failure is
caught and shown as a placeholder DAG carrying the error, and the rest load.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow.sdk import get_parsing_context

from dag_factory.airflow.builder import airflow_config_defaults, build_dag, build_placeholder
from dag_factory.config.cache import ConfigCache
from dag_factory.config.loader import FileError, declared_owner, discover, load_pipelines
from dag_factory.config.shards import current_shards, shard_of
from dag_factory.errors import ConfigError, Problem

log = logging.getLogger(__name__)


def pipelines_root(namespace: dict[str, Any], explicit: str | None) -> Path:
    """Explicit argument, else $DAG_FACTORY_PIPELINES, else `pipelines/` beside the
    dags folder (repository layout) or inside it (MWAA layout: one bundle folder)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("DAG_FACTORY_PIPELINES"):
        return Path(os.environ["DAG_FACTORY_PIPELINES"])
    here = Path(namespace.get("__file__", "dags/generate.py")).resolve().parent
    inside = here / "pipelines"
    return inside if inside.is_dir() else here.parent / "pipelines"


def generate_dags(namespace: dict[str, Any], pipelines_dir: str | None = None, shard: int | None = None, shards: int = 1) -> None:
    """Build this DAG file's DAGs into `namespace`: every pipeline's, or with `shards` > 1 only
    those whose shard (config/shards.py) is `shard`. Cross-file checks see every file's name."""
    if not _in_force(namespace, shard, shards):
        return
    root = pipelines_root(namespace, pipelines_dir)
    if not root.is_dir():
        log.warning("dag_factory: pipelines folder %s does not exist; no DAGs generated", root)
        return
    files = discover(root)  # walked once: the worker's selection and the `after:` checks share it
    mine = files if shards <= 1 else [p for p in files if shard_of(p.stem, shards) == shard]
    wanted = get_parsing_context().dag_id
    # a worker running one task builds just that DAG (name == file stem)
    paths = [p for p in mine if p.stem == wanted] if wanted else None
    result = load_pipelines(root, paths=paths or mine, cache=ConfigCache.default(), known_stems={p.stem for p in files})
    dags: dict[str, Any] = {}
    errors = list(result.errors)
    config_defaults: dict[str, Any] | None = None
    for name, pipeline in result.pipelines.items():
        try:
            dags[name] = build_dag(pipeline, config_defaults)
            if config_defaults is None:
                config_defaults = airflow_config_defaults(dags[name])
        except Exception as exc:  # broad: any error of one pipeline's build must not take the other DAGs down
            log.exception("dag_factory: could not build DAG %s", name)
            problem = Problem(pipeline.path, 1, 1, f"could not build the DAG: {type(exc).__name__}: {exc}")
            errors.append(FileError(Path(pipeline.path), ConfigError([problem])))
    for error in errors:
        dag_id = error.dag_id if error.dag_id not in dags else f"{error.dag_id}_config_error"
        log.warning("dag_factory: %s", error.error)
        try:
            owner = declared_owner(error.path, root)
        except Exception:  # broad: the owner is a nicety; the placeholder must appear regardless
            log.warning("dag_factory: no owner for the placeholder of %s", error.path, exc_info=True)
            owner = None
        try:
            dags[dag_id] = build_placeholder(error, dag_id, owner)
        except Exception:  # broad: the file's other DAGs must still load; the traceback is logged
            log.exception("dag_factory: could not build the placeholder DAG for %s", error.path)
    namespace.update(dags)


def _in_force(namespace: dict[str, Any], shard: int | None, shards: int) -> bool:
    """False for a DAG file that a newer layout in the same folder replaced (generate.py beside
    shard files, or a smaller shard set beside a larger one): building its DAGs too would give
    every DAG twice, and Airflow would reject the duplicates."""
    if shards > 1 and (shard is None or not 0 <= shard < shards):
        log.error("dag_factory: shard=%r is not within 0..%d; no DAGs generated", shard, shards - 1)
        return False
    here = namespace.get("__file__")
    in_force = current_shards(Path(here).parent) if here else None
    if in_force is not None and in_force != shards:
        log.warning("dag_factory: %s stands aside: the DAG folder has a %d-shard layout", here, in_force)
        return False
    return True
