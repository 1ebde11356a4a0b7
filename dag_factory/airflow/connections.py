"""Airflow connections -> engine ConnInfo. Credentials stay inside ConnInfo and
are never logged; the engine decides what to do by `kind`."""

from __future__ import annotations

import os
from pathlib import Path

from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.errors import ConnectionConfigError


def resolve(conn_id: str) -> ConnInfo:
    """Look a connection up the way Airflow does (env AIRFLOW_CONN_*, secrets backends, metadata DB)."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # Airflow raises its own not-found type; keep the message, drop internals
        raise ConnectionConfigError(
            f"Airflow connection {conn_id!r} is not defined: create it in the UI, with `airflow connections add`, "
            f"or as the environment variable AIRFLOW_CONN_{conn_id.upper()} ({type(exc).__name__})"
        ) from None
    kind = KINDS.get((conn.conn_type or "").lower())
    if kind is None:
        raise ConnectionConfigError(
            f"connection {conn_id!r} has type {conn.conn_type!r}; supported: {', '.join(sorted(set(KINDS)))}"
        )
    extra = conn.extra_dejson if conn.extra else {}
    return ConnInfo(
        conn_id=conn_id,
        kind=kind,
        host=conn.host or None,
        port=conn.port,
        login=conn.login or None,
        password=conn.password or None,
        database=conn.schema or None,
        extra=dict(extra),
    )


def staging_conn() -> ConnInfo:
    """Where pipelines without a lake hand data from extract to load: a local folder.

    Fine for one machine (standalone, LocalExecutor); on a distributed executor give
    every pipeline a lake (or point DAG_FACTORY_STAGING at shared storage)."""
    root = os.environ.get("DAG_FACTORY_STAGING") or str(
        Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "dag_factory_staging"
    )
    return ConnInfo(conn_id="_staging", kind="fs", host=root)
