"""What a SQL source holds: its tables, and a table's columns, types, primary key and the
columns that look like a cursor. `dag-factory tables` prints it and `new --source` proposes
cursor, key and columns from it, so nobody needs `sqlite3` or `psql` to start a pipeline."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dag_factory.engine.connections import ConnInfo
from dag_factory.errors import ConnectionConfigError, EngineError

_TIME_TYPES = re.compile(r"time|date", re.I)
_CURSOR_NAMES = re.compile(r"(updated|modified|changed|last_?update|ingested|loaded|_ts$|_at$|timestamp)", re.I)
_UPDATE_NAMES = re.compile(r"(updated|modified|changed|last_?update)", re.I)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def likely_cursors(self) -> list[str]:
        """Columns a run could select its interval by, best first: an update time beats a
        creation time (rows change after they are created), a time type beats a time name."""
        scored = []
        for i, c in enumerate(self.columns):
            score = (2 if _UPDATE_NAMES.search(c.name) else 0) + (1 if _TIME_TYPES.search(c.type) else 0)
            score += 1 if _CURSOR_NAMES.search(c.name) else 0
            if score >= 2 or (_TIME_TYPES.search(c.type) and _CURSOR_NAMES.search(c.name)):
                scored.append((-score, i, c.name))
        return [name for _, _, name in sorted(scored)]


def list_tables(conn: ConnInfo) -> list[str]:
    db, kind = _open(conn)
    try:
        if kind == "sqlite":
            sql = "select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%' order by 1"
        elif kind == "postgres":
            sql = (
                "select case when table_schema = 'public' then table_name else table_schema || '.' || table_name end "
                "from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema') order by 1"
            )
        else:
            sql = "select table_name from information_schema.tables where table_schema = database() order by 1"
        return [str(r[0]) for r in _rows(db, sql)]
    finally:
        db.close()


def describe_table(conn: ConnInfo, table: str) -> TableInfo:
    db, kind = _open(conn)
    schema, _, name = table.rpartition(".")
    try:
        if kind == "sqlite":
            rows = _rows(db, f"pragma table_info({_sqlite_quote(name)})")
            cols = tuple(Column(r[1], r[2] or "", not r[3]) for r in rows)
            pk = tuple(r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5]))
        else:
            where = (
                "table_schema = %s and table_name = %s" if kind == "postgres" else "table_schema = database() and table_name = %s"
            )
            args: tuple[str, ...] = (schema or "public", name) if kind == "postgres" else (name,)
            cols = tuple(
                Column(r[0], r[1], r[2] == "YES")
                for r in _rows(
                    db,
                    f"select column_name, data_type, is_nullable from information_schema.columns where {where} "
                    "order by ordinal_position",
                    args,
                )
            )
            pk = tuple(
                r[0]
                for r in _rows(
                    db,
                    "select k.column_name from information_schema.table_constraints t join "
                    "information_schema.key_column_usage k on k.constraint_name = t.constraint_name "
                    "and k.table_schema = t.table_schema and k.table_name = t.table_name "
                    f"where t.constraint_type = 'PRIMARY KEY' and {where.replace('table_', 't.table_')} "
                    "order by k.ordinal_position",
                    args,
                )
            )
    finally:
        db.close()
    if not cols:
        raise EngineError(f"connection {conn}: no table {table!r} (see `dag-factory tables {conn.conn_id}`)")
    return TableInfo(table, cols, pk)


def earliest_day(conn: ConnInfo, table: str, column: str) -> str | None:
    """The day of the oldest value in `column`: where loading the history starts."""
    from datetime import date

    from dag_factory.engine.identifiers import validate_identifier

    db, kind = _open(conn)

    def q(name: str) -> str:
        name = validate_identifier(name)
        return f"`{name}`" if kind == "mysql" else f'"{name}"'

    try:
        rows = _rows(db, f"select min({q(column)}) from {'.'.join(q(part) for part in table.split('.'))}")  # noqa: S608
    finally:
        db.close()
    value = str(rows[0][0])[:10] if rows and rows[0][0] is not None else None
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def _sqlite_quote(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _rows(db: Any, sql: str, args: tuple = ()) -> list[tuple]:
    cur = db.cursor()
    try:
        cur.execute(sql, args) if args else cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def _open(conn: ConnInfo) -> tuple[Any, str]:
    if conn.kind == "sqlite":
        if not conn.host or not Path(conn.host).is_file():
            raise ConnectionConfigError(f"connection {conn}: SQLite file {conn.host!r} does not exist")
        return sqlite3.connect(Path(conn.host).absolute().as_uri() + "?mode=ro", uri=True), "sqlite"
    if conn.kind in ("postgres", "redshift"):
        from dag_factory.engine.pgconn import connect_postgres

        return connect_postgres(conn), "postgres"
    if conn.kind == "mysql":
        import pymysql

        try:
            return pymysql.connect(
                host=conn.host,
                port=int(conn.port or 3306),
                user=conn.login,
                password=conn.password or "",
                database=conn.database,
                connect_timeout=30,
            ), "mysql"
        except pymysql.MySQLError as e:
            raise EngineError(f"connection {conn}: cannot connect: {e}") from None
    raise ConnectionConfigError(f"connection {conn}: listing tables works for sqlite, postgres and mysql connections")
