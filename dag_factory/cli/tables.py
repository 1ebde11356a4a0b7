"""`dag-factory tables CONN` lists a connection's tables; `dag-factory tables CONN.TABLE` shows a
table's columns, types, primary key and likely cursor columns, and the `new` command to start
a pipeline from it."""

from __future__ import annotations

import sys

from dag_factory.errors import DagFactoryError


def resolve_source(conn_id: str, demo: str | None):
    """The connection as `run` resolves it (with --demo: the demo's for those not defined)."""
    if demo is not None:
        from dag_factory.cli.run import use_demo_connections

        use_demo_connections(demo)
    from dag_factory.airflow.connections import resolve

    return resolve(conn_id)


def tables_command(what: str, demo: str | None) -> int:
    from dag_factory.engine.introspect import describe_table, list_tables

    conn_id, _, table = what.partition(":") if ":" in what else what.partition(".")
    try:
        conn = resolve_source(conn_id, demo)
        if not table:
            names = list_tables(conn)
            print(f"{len(names)} tables in {conn_id} ({conn.kind}):")
            for name in names:
                print(f"  {name}")
            if names:
                print(f"columns, key and likely cursors of one: dag-factory tables {conn_id}.{names[0]}")
            return 0
        info = describe_table(conn, table)
    except DagFactoryError as exc:
        print(f"dag-factory tables: {exc}", file=sys.stderr)
        if "is not defined" in str(exc):
            print("  see `dag-factory connections`; for the demo add --demo", file=sys.stderr)
        return 1
    print(f"{conn_id}.{info.name}:")
    width = max(len(c.name) for c in info.columns)
    for c in info.columns:
        marks = [
            m for m, on in (("primary key", c.name in info.primary_key), ("likely cursor", c.name in info.likely_cursors())) if on
        ]
        print(f"  {c.name:<{width}}  {c.type or '?':<14} {'null' if c.nullable else 'not null':<9} {', '.join(marks)}")
    print(f"primary key: {', '.join(info.primary_key) or 'none'}")
    print(f"likely cursor columns: {', '.join(info.likely_cursors()) or 'none (snapshot or full_refresh fits better)'}")
    cursors = info.likely_cursors()
    mode = f"--mode incremental --cursor {cursors[0]}" if cursors else "--mode full_refresh"
    pk = f" --pk {','.join(info.primary_key)}" if info.primary_key and cursors else ""
    print(
        f"start a pipeline: dag-factory new NAME --source {conn_id}.{info.name} --target warehouse.analytics.{info.name.split('.')[-1]} {mode}{pk}"
    )
    return 0
