"""`dag-factory connections`: which connections the pipelines need, which Airflow finds (and
where), and a ready `airflow connections add` / AIRFLOW_CONN_* template for each missing one.

"Airflow connection 'shop_db' is not defined" names the gap but not what to put there; the
connection's type comes from pipelines/_connections.yaml, its role from the pipelines, and with
`--demo` the values are the demo's own (so `dag-factory run NAME --demo` needs no JSON at all).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dag_factory.cli.common import pipelines_dir
from dag_factory.config.connections_file import Declared, load_declared
from dag_factory.config.loader import active_env, load_pipelines
from dag_factory.config.model import Pipeline
from dag_factory.errors import ConfigError

# conn_type -> (airflow connections add flags, AIRFLOW_CONN_* JSON) with placeholders to fill in
TEMPLATES: dict[str, tuple[str, dict[str, object]]] = {
    "sqlite": ("--conn-host /path/to/db.sqlite", {"host": "/path/to/db.sqlite"}),
    "duckdb": ("--conn-host /path/to/warehouse.duckdb", {"host": "/path/to/warehouse.duckdb"}),
    "fs": ('--conn-extra \'{"path": "/path/to/lake"}\'', {"extra": {"path": "/path/to/lake"}}),
    "postgres": (
        "--conn-host HOST --conn-port 5432 --conn-schema DATABASE --conn-login USER --conn-password 'PASSWORD'",
        {"host": "HOST", "port": 5432, "schema": "DATABASE", "login": "USER", "password": "PASSWORD"},
    ),
    "mysql": (
        "--conn-host HOST --conn-port 3306 --conn-schema DATABASE --conn-login USER --conn-password 'PASSWORD'",
        {"host": "HOST", "port": 3306, "schema": "DATABASE", "login": "USER", "password": "PASSWORD"},
    ),
    "redshift": (
        "--conn-host CLUSTER.REGION.redshift.amazonaws.com --conn-port 5439 --conn-schema DATABASE --conn-login USER "
        "--conn-password 'PASSWORD' --conn-extra '{\"iam_role\": \"arn:aws:iam::ACCOUNT:role/COPY_ROLE\"}'",
        {
            "host": "CLUSTER.REGION.redshift.amazonaws.com",
            "port": 5439,
            "schema": "DATABASE",
            "login": "USER",
            "password": "PASSWORD",
            "extra": {"iam_role": "arn:aws:iam::ACCOUNT:role/COPY_ROLE"},
        },
    ),  # fmt: skip
    "aws": (
        '--conn-extra \'{"region_name": "eu-west-1", "bucket": "BUCKET", "prefix": "PREFIX"}\'',
        {"extra": {"region_name": "eu-west-1", "bucket": "BUCKET", "prefix": "PREFIX"}},
    ),
    "slackwebhook": (
        "--conn-password 'https://hooks.slack.com/services/T000/B000/XXXX'",
        {"password": "https://hooks.slack.com/services/T000/B000/XXXX"},
    ),
    "teams": (
        "--conn-type http --conn-password 'https://WORKFLOW_WEBHOOK_URL'",
        {"password": "https://WORKFLOW_WEBHOOK_URL"},
    ),
    "http": (
        "--conn-host https://api.example.com --conn-password 'TOKEN'",
        {"host": "https://api.example.com", "password": "TOKEN"},
    ),
}
ROLE_TYPES = {"lake": "fs", "target": "duckdb", "slack": "slackwebhook", "teams": "teams"}  # when _connections.yaml says nothing


@dataclass
class Need:
    conn_id: str
    conn_type: str | None
    uses: list[str] = field(default_factory=list)  # "source of shop_orders", ...


def needed(pipelines: dict[str, Pipeline], declared: Declared, env: str) -> dict[str, Need]:
    out: dict[str, Need] = {}

    def use(conn_id: str, role: str, name: str) -> None:
        need = out.setdefault(conn_id, Need(conn_id, declared.conn_type(conn_id, env)))
        need.uses.append(f"{role} of {name}")

    for name, p in sorted(pipelines.items()):
        if not p.in_warehouse:
            use(p.source.conn_id, "source", name)
            if p.lake:
                use(p.lake.conn_id, "lake", name)
        use(p.target.conn_id, "target", name)
        for channel in (*p.alerts.on_failure, *p.alerts.on_success):
            if channel.conn_id:
                use(channel.conn_id, f"{channel.kind} alerts", name)
    return out


def template(need: Need, demo: dict[str, str] | None) -> list[str]:
    """`airflow connections add ...` and `export AIRFLOW_CONN_...` lines for one connection."""
    var = f"AIRFLOW_CONN_{need.conn_id.upper()}"
    if demo and var in demo:
        value = json.loads(demo[var])
        given = [f"--conn-type {value['conn_type']}"]
        if value.get("host"):
            given.append(f"--conn-host {shlex.quote(value['host'])}")
        if value.get("extra"):
            given.append(f"--conn-extra {shlex.quote(json.dumps(value['extra']))}")
        return [f"airflow connections add {need.conn_id} {' '.join(given)}", f"export {var}={shlex.quote(demo[var])}"]
    role = need.uses[0].split(" ")[0] if need.uses else ""
    conn_type = need.conn_type or ROLE_TYPES.get(role) or "CONN_TYPE"
    flags, body = TEMPLATES.get(conn_type, ("--conn-host HOST", {"host": "HOST"}))
    shown_type = "http" if conn_type == "teams" else conn_type  # a Teams webhook is an http connection
    value_json = json.dumps({"conn_type": shown_type, **body})
    type_flag = "" if "--conn-type" in flags else f"--conn-type {shown_type} "
    return [
        f"airflow connections add {need.conn_id} {type_flag}{flags}",
        f"export {var}={shlex.quote(value_json)}",
    ]


def connections_command(env: str | None, pipelines: str | None, demo_home: str | None) -> int:
    root = pipelines_dir(pipelines)
    env = env or active_env()
    if not root.is_dir():
        print(f"dag-factory connections: no pipelines folder {root}", file=sys.stderr)
        return 2
    try:
        declared = load_declared(root)
    except ConfigError as exc:
        print(f"dag-factory connections: {exc}", file=sys.stderr)
        return 1
    result = load_pipelines(root, env)
    demo = None
    if demo_home is not None:
        from dag_factory.cli.demo import demo_environment

        demo = demo_environment(Path(demo_home).resolve())
    from dag_factory.airflow.connections import find_connection

    needs = needed(result.pipelines, declared, env)
    missing = []
    print(f"connections the pipelines in {root}/ need (environment {env!r}):")
    for conn_id, need in sorted(needs.items()):
        where = find_connection(conn_id)
        kind = need.conn_type or "(type?)"
        status = f"found: {where}" if where else "MISSING"
        print(f"  {conn_id:<16} {kind:<10} {status:<40} {'; '.join(need.uses)}")
        if not where:
            missing.append(need)
    if result.errors:
        print(f"  ({len(result.errors)} invalid pipeline file(s) not counted; see `dag-factory lint`)")
    if not missing:
        print("every connection is defined")
        return 0
    print(
        f"\n{len(missing)} missing. Create each in the Airflow UI (Admin > Connections), with the CLI, or as an "
        "environment variable (either line; fill in the capitals):"
    )
    for need in missing:
        print(f"\n  # {need.conn_id}: {'; '.join(need.uses)}")
        print("\n".join(f"  {line}" for line in template(need, demo)))
    if demo is None and any(n.conn_id in ("shop_db", "warehouse", "lake") for n in missing):
        print("\n  the demo's values: `dag-factory connections --demo`, or run with them: `dag-factory run NAME --date D --demo`")
    return 0
