"""Redshift warehouse: COPY the S3 lake partition (Parquet, via its manifest) into a staging
table, then the same one-transaction semantics as every warehouse.

Connection (Airflow conn_type `redshift`, engine kind `redshift`): host, port (5439),
schema (= database), login, password, and in extra:

    {"iam_role": "arn:aws:iam::123456789012:role/RedshiftCopy",   # required: the role COPY
                                                                   #   assumes to read the lake;
                                                                   #   "default" = the cluster's default role
     "copy_region": "eu-west-1"}                                   # optional: the lake bucket's region
                                                                   #   when it differs from the cluster's

Steps (write-audit-publish, as every warehouse; `<stage>` is base.staging_table's
`<schema>._dagf_stage_<table>_<yyyymmdd>`, persistent so checks can run between steps):

- stage (sql.SqlWarehouse.stage; only the fill is Redshift's: `_fill_stage`)::

      CREATE SCHEMA IF NOT EXISTS <schema>
      DROP TABLE IF EXISTS <stage>
      CREATE TABLE <stage> (<columns in Parquet file order>)
      COPY <stage> FROM 's3://.../_manifests/ds=D.json' IAM_ROLE '<role>' FORMAT AS PARQUET MANIFEST

- publish, incremental (`_publish_incremental`, the one publish step whose SQL differs: Redshift's DELETE takes no
  table alias, so the key match is `DELETE ... USING` instead of a correlated EXISTS)::

      BEGIN
        CREATE TABLE <target> AS SELECT <cols> FROM <stage> LIMIT 0      -- first load only
        DELETE FROM <target> WHERE (<cursor> >= %s AND <cursor> < %s)
        DELETE FROM <target> USING <stage> WHERE <target>.<k> = <stage>.<k> [AND ...]  -- with primary_key
        INSERT INTO <target> (<cols>) SELECT <cols> FROM <stage>
        DROP TABLE <stage>
      COMMIT

- publish, snapshot / full_refresh: sql.SqlWarehouse's steps unchanged (DELETE of the snapshot_date +
  INSERT, or the RENAME swap), which is Redshift SQL as written.

Statements go through any DB-API 2 connection in autocommit mode with explicit
BEGIN/COMMIT: redshift_connector in production (or the one RedshiftSQLHook.get_conn()
returns); the tests run everything except the COPY against PostgreSQL through psycopg.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsResolver
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.lake import S3Partition
from dag_factory.engine.warehouses.base import DbapiFactory, StageInput
from dag_factory.engine.warehouses.capabilities import capabilities_for
from dag_factory.engine.warehouses.sql import SqlWarehouse, Staged
from dag_factory.errors import ConnectionConfigError, EngineError

log = logging.getLogger(__name__)
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_S3_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]*[a-z0-9]/[A-Za-z0-9_.=/-]+$")


def _literal(value: str, pattern: re.Pattern[str], what: str) -> str:
    """A checked string literal for the few places Redshift cannot take a bound parameter (COPY)."""
    if not isinstance(value, str) or not pattern.match(value):
        raise ConnectionConfigError(f"invalid {what} {value!r}")
    return "'" + value + "'"


def connect_redshift(conn: ConnInfo) -> Any:
    """redshift_connector with user/password from the connection (IAM: pass RedshiftSQLHook's connection instead)."""
    import redshift_connector

    if not conn.host:
        raise ConnectionConfigError(f"connection {conn}: Redshift needs a host")
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5439,
        "database": conn.database or "dev",
        "user": conn.login,
        "password": conn.password,
    }
    for key in ("ssl", "sslmode", "timeout"):
        if conn.extra.get(key) is not None:
            kwargs[key] = conn.extra[key]
    try:
        return redshift_connector.connect(**kwargs)
    except Exception as e:  # broad: redshift_connector raises its own, socket and SSL errors alike; the
        # cause is chained (traceback kept), and the driver's message names host/user, never the password
        raise EngineError(f"cannot connect to Redshift connection {conn}: {e}") from e


class RedshiftWarehouse(SqlWarehouse):
    capabilities = capabilities_for("redshift")
    placeholder = "%s"
    default_schema = "public"
    date_type = "date"

    def __init__(self, conn: ConnInfo, dbapi: Any | None = None) -> None:
        self.conn = conn
        role = conn.extra.get("iam_role")
        if not role:
            raise ConnectionConfigError(
                f"connection {conn}: Redshift needs extra.iam_role (the IAM role ARN COPY uses to read the S3 lake, or 'default')"
            )
        self.iam_role = "default" if role == "default" else _literal(role, _ROLE, "IAM role ARN")
        region = conn.extra.get("copy_region")
        self.copy_region = _literal(region, _REGION, "AWS region") if region else None
        self.db = dbapi if dbapi is not None else connect_redshift(conn)
        self.db.autocommit = True  # transactions are explicit BEGIN/COMMIT

    @classmethod
    def open(cls, conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> RedshiftWarehouse:
        """`dbapi` (optional) opens the DB-API connection (the Airflow layer passes RedshiftSQLHook's);
        without it the engine connects with redshift_connector."""
        return cls(conn, dbapi=dbapi(conn) if dbapi else None)

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def escape_literal(sql_text: str) -> str:
        return sql_text.replace("%", "%%")

    def execute(self, sql: str, params: list | tuple = ()) -> int:
        cur = self.db.cursor()
        try:
            cur.execute(sql, list(params))  # always bound: '%' in SQL text must be '%%'
            return cur.rowcount if cur.rowcount is not None else -1
        except Exception as e:  # broad: any DB-API driver (redshift_connector, the hook's, psycopg in
            # tests) has its own error classes and no common base; the cause is chained, traceback kept
            raise EngineError(f"Redshift {self.conn}: {e}") from e
        finally:
            cur.close()

    def _query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        cur = self.db.cursor()
        try:
            cur.execute(sql, list(params))
            return [tuple(r) for r in cur.fetchall()]
        except Exception as e:  # broad: as in execute (DB-API drivers share no error base class)
            raise EngineError(f"Redshift {self.conn}: {e}") from e
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            try:
                self.execute("ROLLBACK")
            except EngineError:  # the error that ended the transaction is the one to raise
                log.warning("Redshift %s: ROLLBACK failed", self.conn, exc_info=True)
            raise
        self.execute("COMMIT")

    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        # pg_attribute/pg_class/pg_namespace and format_type exist in Redshift (pg_table_def uses them)
        where = "n.nspname LIKE 'pg_temp%%'" if temp else "n.nspname = %s"
        params = [table] if temp else [table, schema or self.default_schema]
        rows = self._query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON a.attrelid = c.oid JOIN pg_namespace n ON c.relnamespace = n.oid "
            f"WHERE c.relname = %s AND {where} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            params,
        )
        return [(r[0], r[1]) for r in rows] or None

    def count(self, table_sql: str) -> int:
        return int(self._query(f"SELECT count(*) FROM {table_sql}")[0][0])

    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        cur = self.db.cursor()
        try:
            cur.execute(sql, list(params))
            names = [d[0] for d in cur.description or []]
            return names, [tuple(r) for r in cur.fetchall()]
        except Exception as e:  # broad: as in execute (DB-API drivers share no error base class)
            raise EngineError(f"Redshift {self.conn}: {e}") from e
        finally:
            cur.close()

    # -- write: COPY from the lake ----------------------------------------------
    def copy_sql(self, table_sql: str, part: S3Partition) -> str:
        """COPY the partition's files (exactly those its manifest lists) into `table_sql`.
        Parquet columns map by position; the staging table is created in file order."""
        sql = (
            f"COPY {table_sql} FROM {_literal(part.manifest_url, _S3_URL, 'manifest URL')} "
            f"IAM_ROLE {self.iam_role} FORMAT AS PARQUET MANIFEST"
        )
        if self.copy_region:
            sql += f" REGION {self.copy_region}"
        return sql

    def _fill_stage(self, data: StageInput, table_sql: str, columns: list[str]) -> int:
        if not isinstance(data, S3Partition):
            raise EngineError("Redshift stages from the S3 lake only (COPY ... FORMAT AS PARQUET MANIFEST)")
        self.execute(self.copy_sql(table_sql, data))
        return self.count(table_sql)

    # -- publish: the one step whose SQL differs ----------------------------------
    def _publish_incremental(self, s: Staged, load: Load, interval: Interval) -> int:
        """Redshift's DELETE takes no table alias: the interval is deleted without one and the
        key match is `DELETE ... USING <stage>` instead of a correlated EXISTS."""
        predicate, bounds = self._catalog_cursor_bounds(load, interval.widened(load.lookback), dict(s.columns))
        deleted = self.execute(f"DELETE FROM {s.target_sql} WHERE {predicate}", bounds)
        if load.primary_key:
            match = " AND ".join(f"{s.target_sql}.{quote_ident(k)} = {s.stage_sql}.{quote_ident(k)}" for k in load.primary_key)
            deleted += self.execute(f"DELETE FROM {s.target_sql} USING {s.stage_sql} WHERE {match}")
        self.execute(f"INSERT INTO {s.target_sql} ({s.col_list}) SELECT {s.col_list} FROM {s.stage_sql}{self._kept(s, load)}")
        return deleted
