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

- stage (`stage_partition`)::

      CREATE SCHEMA IF NOT EXISTS <schema>
      DROP TABLE IF EXISTS <stage>
      CREATE TABLE <stage> (<columns in Parquet file order>)
      COPY <stage> FROM 's3://.../_manifests/ds=D.json' IAM_ROLE '<role>' FORMAT AS PARQUET MANIFEST

- publish, incremental (its SQL differs from base.publish: Redshift's DELETE takes no
  table alias, so the key match is `DELETE ... USING` instead of a correlated EXISTS)::

      BEGIN
        CREATE TABLE <target> AS SELECT <cols> FROM <stage> LIMIT 0      -- first load only
        DELETE FROM <target> WHERE (<cursor> >= %s AND <cursor> < %s)
        DELETE FROM <target> USING <stage> WHERE <target>.<k> = <stage>.<k> [AND ...]  -- with primary_key
        INSERT INTO <target> (<cols>) SELECT <cols> FROM <stage>
        DROP TABLE <stage>
      COMMIT

- publish, snapshot / full_refresh: base.publish unchanged (DELETE of the snapshot_date +
  INSERT, or the RENAME swap), which is Redshift SQL as written.

Statements go through any DB-API 2 connection in autocommit mode with explicit
BEGIN/COMMIT: redshift_connector in production (or the one RedshiftSQLHook.get_conn()
returns); the tests run everything except the COPY against PostgreSQL through psycopg.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident, split_table, validate_identifier
from dag_factory.engine.lake_s3 import S3Partition
from dag_factory.engine.warehouses.base import LoadResult, Warehouse
from dag_factory.engine.warehouses.postgres import _SIMPLE as PG_SIMPLE
from dag_factory.errors import ConnectionConfigError, EngineError

# PostgreSQL's mapping, where Redshift's dialect differs (its TEXT is VARCHAR(256): too short)
_SIMPLE = {
    **PG_SIMPLE,
    pa.string(): "VARCHAR(65535)",
    pa.large_string(): "VARCHAR(65535)",
    pa.binary(): "VARBYTE(1024000)",
    pa.large_binary(): "VARBYTE(1024000)",
    pa.null(): "VARCHAR(65535)",
}

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
    except Exception as e:  # the driver's message names host/user, never the password
        raise EngineError(f"cannot connect to Redshift connection {conn}: {e}") from e


class RedshiftWarehouse(Warehouse):
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
        self.statements: list[str] = []  # every statement issued, in order (for logs and tests)

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def escape_literal(sql_text: str) -> str:
        return sql_text.replace("%", "%%")

    # -- dialect ------------------------------------------------------------
    def sql_type(self, t: pa.DataType, column: str) -> str:
        if t in _SIMPLE:
            return _SIMPLE[t]
        if pa.types.is_timestamp(t):
            return "TIMESTAMPTZ" if t.tz is not None else "TIMESTAMP"
        if pa.types.is_decimal(t) and t.precision <= 38:
            return f"NUMERIC({t.precision},{t.scale})"
        raise EngineError(f"column {column!r}: Arrow type {t} has no Redshift mapping")

    def execute(self, sql: str, params: list | tuple = ()) -> int:
        self.statements.append(sql)
        cur = self.db.cursor()
        try:
            cur.execute(sql, list(params))  # always bound: '%' in SQL text must be '%%'
            return cur.rowcount if cur.rowcount is not None else -1
        except EngineError:
            raise
        except Exception as e:
            raise EngineError(f"Redshift {self.conn}: {e}") from e
        finally:
            cur.close()

    def _query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        cur = self.db.cursor()
        try:
            cur.execute(sql, list(params))
            return [tuple(r) for r in cur.fetchall()]
        except Exception as e:
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
            except EngineError:
                pass
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
        except Exception as e:
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

    def copy(self, sql: str, table_sql: str, part: S3Partition) -> None:
        """Run the COPY (a test replaces this with a local fill of `table_sql`)."""
        self.execute(sql)

    def stage(self, reader: Any, table_sql: str, columns: list[str]) -> int:
        if not isinstance(reader, S3Partition):
            raise EngineError("Redshift stages from the S3 lake only (COPY ... FORMAT AS PARQUET MANIFEST)")
        self.copy(self.copy_sql(table_sql, reader), table_sql, reader)
        return self.count(table_sql)

    def stage_reader(self, target_table: str, load: Load, interval: Interval, reader: pa.RecordBatchReader) -> int:
        raise EngineError(
            "a Redshift target stages from the S3 lake with COPY (stage_partition); give the pipeline a lake on an AWS connection"
        )

    def stage_partition(self, target_table: str, load: Load, interval: Interval, part: S3Partition) -> int:
        """Write: COPY the published lake partition into the run's staging table (base.staging_table)."""
        names = [validate_identifier(f.name) for f in part.schema]
        self._validate_columns(load, names)
        if load.mode == "incremental":
            self._cursor_bounds(load, interval, part.schema)  # fail before staging, with the Arrow type
        ddl = ", ".join(f"{quote_ident(n)} {self.sql_type(f.type, n)}" for n, f in zip(names, part.schema, strict=True))
        _, _, stage_sql = self._fresh_stage(target_table, interval)
        self.execute(f"CREATE TABLE {stage_sql} ({ddl})")
        return self.stage(part, stage_sql, names)

    # -- publish ------------------------------------------------------------------
    def publish(self, target_table: str, load: Load, interval: Interval) -> LoadResult:
        """As base.publish, except incremental: Redshift's DELETE takes no table alias, so the
        interval is deleted without one and the key match is `DELETE ... USING <stage>`."""
        if load.mode != "incremental":
            return super().publish(target_table, load, interval)
        schema_name, table = split_table(target_table)
        _, stage, stage_sql = self.staging_table(target_table, interval)
        staged = self.columns(schema_name, stage)
        if staged is None:
            raise EngineError(f"nothing staged for {target_table} and {interval.ds}: run the stage step first")
        names = [n for n, _ in staged]
        self._validate_columns(load, names)
        target_sql = self._table_sql(schema_name, table)
        inserted = self.count(stage_sql)
        col_list = ", ".join(quote_ident(n) for n in names)
        existing = self.columns(schema_name, table)
        if existing is not None:
            self._check_columns(f"{schema_name or self.default_schema}.{table}", existing, list(staged))
        predicate, bounds = self._catalog_cursor_bounds(load, interval, dict(staged))
        with self.transaction():
            if existing is None:
                self.execute(f"CREATE TABLE {target_sql} AS SELECT {col_list} FROM {stage_sql} LIMIT 0")
            deleted = self.execute(f"DELETE FROM {target_sql} WHERE {predicate}", bounds)
            if load.primary_key:
                match = " AND ".join(f"{target_sql}.{quote_ident(k)} = {stage_sql}.{quote_ident(k)}" for k in load.primary_key)
                deleted += self.execute(f"DELETE FROM {target_sql} USING {stage_sql} WHERE {match}")
            self.execute(f"INSERT INTO {target_sql} ({col_list}) SELECT {col_list} FROM {stage_sql}")
            self.execute(f"DROP TABLE {stage_sql}")
        return LoadResult(inserted=inserted, deleted=deleted)

    # -- both in one go (runner.load) ------------------------------------------------
    def load(self, target_table: str, load: Load, interval: Interval, reader: pa.RecordBatchReader) -> LoadResult:
        raise EngineError("a Redshift target loads from the S3 lake with COPY; give the pipeline a lake on an AWS connection")

    def load_partition(self, target_table: str, load: Load, interval: Interval, part: S3Partition) -> LoadResult:
        """Stage (COPY) and publish the lake partition in one go, no checks in between."""
        self.stage_partition(target_table, load, interval, part)
        return self.publish(target_table, load, interval)
