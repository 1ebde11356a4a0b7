"""Airflow connections -> engine ConnInfo. Credentials stay inside ConnInfo and
are never logged; the engine decides what to do by `kind`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import KINDS, ConnInfo
from dag_factory.errors import ConnectionConfigError


def _from_env_json(conn_id: str) -> ConnInfo | None:
    """AIRFLOW_CONN_<ID> in Airflow's JSON form, read without importing Airflow.

    Airflow looks at these variables before any secrets backend, so this is the answer it
    would give; importing Airflow for it costs a `dag-factory run` about a second of start-up.
    The URI form (and anything else) goes through Airflow itself."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip()
    if not raw.startswith("{"):
        return None
    try:
        d = json.loads(raw)
    except ValueError:
        return None
    kind = KINDS.get(str(d.get("conn_type") or "").lower().replace("-", "_"))
    if not isinstance(d, dict) or kind is None:
        return None
    extra = d.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            return None
    port = d.get("port")
    return ConnInfo(
        conn_id=conn_id,
        kind=kind,
        host=d.get("host") or None,
        port=int(port) if port not in (None, "") else None,
        login=d.get("login") or None,
        password=d.get("password") or None,
        database=d.get("schema") or None,
        extra=dict(extra),
    )


def resolve(conn_id: str) -> ConnInfo:
    """Look a connection up the way Airflow does (env AIRFLOW_CONN_*, secrets backends, metadata DB)."""
    fast = _from_env_json(conn_id)
    if fast is not None:
        return fast
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    # Only "no such connection" is reworded; anything else (a secrets backend or the execution
    # API failing, a malformed AIRFLOW_CONN_* value) propagates as it is, with its own cause.
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ConnectionConfigError(
            f"Airflow connection {conn_id!r} is not defined: create it in the UI, with `airflow connections add`, "
            f"or as the environment variable AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
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


def find_connection(conn_id: str) -> str | None:
    """Where Airflow would find `conn_id` (environment variable, metadata DB, a secrets backend),
    or None: asked backend by backend, in Airflow's own search order."""
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(var):
        return f"environment variable {var}"
    try:
        from airflow.configuration import ensure_secrets_loaded

        backends = ensure_secrets_loaded()
    except Exception:  # no Airflow configuration here: nothing else to ask
        return None
    for backend in backends:
        name = type(backend).__name__
        if name == "EnvironmentVariablesBackend":
            continue
        try:
            found = backend.get_connection(conn_id)
        except Exception:  # an unreachable backend or an unmigrated metadata DB: it does not have it
            found = None
        if found is not None:
            return "the Airflow metadata DB" if name == "MetastoreBackend" else f"secrets backend {name}"
    return None


def staging_conn() -> ConnInfo:
    """Where pipelines without a lake hand data from extract to load: a local folder.

    Fine for one machine (standalone, LocalExecutor); on a distributed executor give
    every pipeline a lake (or point DAG_FACTORY_STAGING at shared storage)."""
    root = os.environ.get("DAG_FACTORY_STAGING") or str(
        Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "dag_factory_staging"
    )
    return ConnInfo(conn_id="_staging", kind="fs", host=root)


def aws_context(conn: ConnInfo) -> AwsContext:
    """The engine's AWS access for an `aws` connection: the amazon provider's own session
    (role assumption, profiles, web identity behave as for any AWS operator)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn.conn_id, client_type="s3")
    return AwsContext(
        session=hook.get_session(region_name=hook.region_name),
        endpoint_url=hook.conn_config.endpoint_url,
        region_name=hook.region_name,
    )


def redshift_dbapi(conn: ConnInfo):
    """A DB-API connection to Redshift through the provider's hook (IAM auth included)."""
    from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

    return RedshiftSQLHook(redshift_conn_id=conn.conn_id).get_conn()
