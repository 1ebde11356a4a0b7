"""A DB-API connection that is Redshift for the engine and PostgreSQL underneath.

RedshiftWarehouse takes any DB-API 2 connection. This one runs every statement on a real
PostgreSQL (Redshift's SQL as the engine writes it is the PostgreSQL 8 subset) except the one
PostgreSQL cannot run: `COPY <table> FROM 's3://.../manifest.json' ... FORMAT AS PARQUET
MANIFEST`. That statement is recorded as text (tests assert it) and carried out the way Redshift
does it: the files the manifest lists are read from S3 (moto) and their columns go into the
table by position. Where the dialects differ on a statement the engine sends, this refuses
what Redshift refuses: ALTER COLUMN ... TYPE other than a VARCHAR size, or inside a transaction
block. Nothing of dag_factory is replaced: the warehouse code runs unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from dag_factory.engine.connections import ConnInfo

_COPY = re.compile(r"^COPY (\S+) FROM 's3://([^/']+)/([^']+)' IAM_ROLE \S+ FORMAT AS PARQUET MANIFEST( REGION '[a-z0-9-]+')?$")


# Redshift's ALTER COLUMN ... TYPE: VARCHAR size only, and never inside a transaction block
_ALTER_TYPE = re.compile(r"^ALTER TABLE \S+ ALTER COLUMN \S+ TYPE (.+)$")


class RedshiftOnPostgres:
    """The DB-API connection; `statements` is every statement it was sent, in order."""

    def __init__(self, pg: ConnInfo, s3: Any) -> None:
        self.pg = psycopg.connect(host=pg.host, port=pg.port, user=pg.login, password=pg.password, dbname=pg.database)
        self.s3 = s3
        self.statements: list[str] = []
        self.fail_at: str | None = None  # a statement prefix at which the "cluster" reports an error

    @property
    def autocommit(self) -> bool:
        return self.pg.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.pg.autocommit = value

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def close(self) -> None:
        self.pg.close()

    @property
    def copies(self) -> list[str]:
        return [s for s in self.statements if s.startswith("COPY ")]

    def writes(self) -> list[str]:
        """The statements that are not catalog or count reads."""
        return [s for s in self.statements if not s.startswith("SELECT ")]


class _Cursor:
    def __init__(self, conn: RedshiftOnPostgres) -> None:
        self.conn = conn
        self.cur = conn.pg.cursor()
        self.rowcount = -1

    @property
    def description(self) -> Any:
        return self.cur.description

    def execute(self, sql: str, params: list | tuple = ()) -> None:
        self.conn.statements.append(sql)
        if self.conn.fail_at and sql.startswith(self.conn.fail_at):
            self.cur.execute("SELECT 1/0")  # the server rejects the statement, mid-transaction
        alter = _ALTER_TYPE.match(sql)
        if alter:  # where Redshift's dialect differs from PostgreSQL's (docs/schema-changes.md)
            if self.conn.pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                raise psycopg.errors.ActiveSqlTransaction("ALTER TABLE ALTER COLUMN cannot run inside a transaction block")
            if not re.match(r"(?i)^(character varying|varchar)\(\d+\)$", alter.group(1)):
                raise psycopg.errors.FeatureNotSupported("ALTER COLUMN TYPE changes only the size of a VARCHAR column")
        m = _COPY.match(sql)
        if m:
            self.rowcount = self._copy(m.group(1), m.group(2), m.group(3))
            return
        self.cur.execute(sql, params)
        self.rowcount = self.cur.rowcount

    def _copy(self, table_sql: str, bucket: str, manifest_key: str) -> int:
        manifest = json.loads(self.conn.s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        rows = 0
        for entry in manifest["entries"]:
            b, _, key = entry["url"][len("s3://") :].partition("/")
            body = self.conn.s3.get_object(Bucket=b, Key=key)["Body"].read()
            table = pq.read_table(pa.BufferReader(body))
            if table.num_rows == 0:
                continue
            marks = ", ".join(["%s"] * table.num_columns)
            values = [tuple(r.values()) for r in table.to_pylist()]
            self.cur.executemany(f"INSERT INTO {table_sql} VALUES ({marks})", values)
            rows += table.num_rows
        return rows

    def fetchall(self) -> list[tuple]:
        return self.cur.fetchall()

    def close(self) -> None:
        self.cur.close()
