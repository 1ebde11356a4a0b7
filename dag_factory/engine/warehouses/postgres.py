"""PostgreSQL warehouse: staging via COPY (CSV written by Arrow, so decimals stay exact)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from dag_factory.engine.aws import AwsResolver
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import quote_ident
from dag_factory.engine.pgconn import connect_postgres
from dag_factory.engine.warehouses.base import DbapiFactory, StageInput
from dag_factory.engine.warehouses.capabilities import capabilities_for
from dag_factory.engine.warehouses.sql import SqlWarehouse
from dag_factory.errors import EngineError


def _bytea_hex(arr: pa.Array) -> pa.Array:
    """bytes -> PostgreSQL bytea hex input ('\\x0a0b')."""
    return pa.array([None if v is None else "\\x" + v.hex() for v in arr.to_pylist()], pa.string())


class PostgresWarehouse(SqlWarehouse):
    capabilities = capabilities_for("postgres")
    placeholder = "%s"
    default_schema = "public"
    date_type = "date"

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = conn
        self.pg = connect_postgres(conn, autocommit=True)

    @classmethod
    def open(cls, conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> PostgresWarehouse:
        return cls(conn)

    def close(self) -> None:
        self.pg.close()

    def _temp_sql(self, table: str) -> str:
        return f"pg_temp.{quote_ident(table)}"

    def execute(self, sql: str, params: list | tuple = ()) -> int:
        try:
            cur = self.pg.execute(sql, list(params))  # always bound: '%' in SQL text must be '%%'
        except psycopg.Error as e:
            raise EngineError(f"PostgreSQL {self.conn}: {e}") from e
        return cur.rowcount

    def _serialize(self, name: str) -> None:
        # held until the transaction ends; concurrent publishes of one target queue here
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"dag_factory {name}"])

    def _create_schema(self, schema_name: str) -> None:
        # two first loads at once: IF NOT EXISTS alone can still fail on pg_namespace's unique index
        with self.transaction():
            self._serialize(f"schema {schema_name}")
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema_name)}")

    @staticmethod
    def escape_literal(sql_text: str) -> str:
        return sql_text.replace("%", "%%")

    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        try:
            cur = self.pg.execute(sql, list(params))
            return [d.name for d in cur.description or []], cur.fetchall()
        except psycopg.Error as e:
            raise EngineError(f"PostgreSQL {self.conn}: {e}") from e

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.pg.transaction():
                yield
        except psycopg.Error as e:
            raise EngineError(f"PostgreSQL {self.conn}: {e}") from e

    def _fill_stage(self, data: StageInput, table_sql: str, columns: list[str]) -> int:
        if not isinstance(data, pa.RecordBatchReader):
            raise EngineError("PostgreSQL stages rows streamed from the lake, not a remote partition")
        reader = data
        cols = ", ".join(quote_ident(c) for c in columns)
        binary = [i for i, f in enumerate(reader.schema) if pa.types.is_binary(f.type)]
        opts = pacsv.WriteOptions(include_header=False)
        rows = 0
        try:
            with self.pg.cursor().copy(f"COPY {table_sql} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                for batch in reader:
                    if batch.num_rows == 0:
                        continue
                    if binary:
                        arrays = list(batch.columns)
                        for i in binary:
                            arrays[i] = _bytea_hex(arrays[i])
                        batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
                    buf = io.BytesIO()
                    # Arrow writes NULL as an empty field and '' as "" (CSV COPY keeps them apart)
                    pacsv.write_csv(batch, buf, opts)
                    copy.write(buf.getbuffer())
                    rows += batch.num_rows
        except psycopg.Error as e:
            raise EngineError(f"PostgreSQL {self.conn}: staging into {table_sql} failed: {e}") from e
        self.execute(f"ANALYZE {table_sql}")
        return rows

    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        name = self._temp_sql(table) if temp else self._table_sql(schema, table)
        rows = self.pg.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [name],
        ).fetchall()
        return [(r[0], r[1]) for r in rows] or None

    def count(self, table_sql: str) -> int:
        row = self.pg.execute(f"SELECT count(*) FROM {table_sql}").fetchone()
        assert row is not None  # count(*) always returns a row
        return int(row[0])
