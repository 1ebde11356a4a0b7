"""DuckDB warehouse: a local lake partition through DuckDB's own Parquet reader, other rows
as Arrow streams via a registered reader."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa

from dag_factory.engine.aws import AwsResolver
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import LocalPartition
from dag_factory.engine.warehouses.base import DbapiFactory, StageInput
from dag_factory.engine.warehouses.capabilities import capabilities_for
from dag_factory.engine.warehouses.sql import SqlWarehouse, _token
from dag_factory.errors import ConnectionConfigError, EngineError

# the cap of a file database unless its connection's extra sets memory_limit: 128MB per DuckDB
# thread, at least 256MB (a group-by over 6M keys ran out at 128MB on 2 threads, passed at 256MB)
MB_PER_THREAD, MIN_MB = 128, 256


def default_memory_limit(threads: int) -> str:
    return f"{max(MIN_MB, MB_PER_THREAD * threads)}MB"


def _writer_lock(db_file: Path) -> IO[bytes]:
    """Wait for our turn to write `db_file`.

    DuckDB allows one writing process per file; under Airflow's LocalExecutor two
    pipelines' load tasks run at once and the second would fail to open the file.
    An flock beside the file makes them queue instead (Airflow's execution_timeout
    still bounds the wait)."""
    handle = open(db_file.with_name(db_file.name + ".writer.lock"), "ab")  # noqa: SIM115 - held until close()
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


class DuckDBWarehouse(SqlWarehouse):
    capabilities = capabilities_for("duckdb")
    placeholder = "?"
    default_schema = "main"
    date_type = "DATE"

    def __init__(self, conn: ConnInfo) -> None:
        if not conn.host:
            raise ConnectionConfigError(f"connection {conn}: DuckDB needs the database file path in 'host'")
        limit = conn.extra.get("memory_limit")
        if limit and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(limit)):
            raise ConnectionConfigError(f"connection {conn}: memory_limit {limit!r} must look like '512MB' or '2GB'")
        self._lock = None
        if conn.host != ":memory:":
            Path(conn.host).parent.mkdir(parents=True, exist_ok=True)
            self._lock = _writer_lock(Path(conn.host))
        try:
            self.db = duckdb.connect(conn.host)
        except duckdb.Error as e:
            self._release()
            raise EngineError(f"cannot open DuckDB connection {conn}: {e}") from e
        self.db.execute("SET TimeZone = 'UTC'")
        # stream big INSERT ... SELECTs instead of buffering them to keep their order (row order
        # in a table carries no meaning); keeps memory flat as tables grow
        self.db.execute("SET preserve_insertion_order = false")
        # DuckDB's own default memory_limit is 80% of RAM, and it caches table pages up to it, so
        # each load on a worker would grow with the table. A file database spills what does not
        # fit to <file>.tmp, so we cap it: `dag-factory run` of TPC-H lineitem, 1M / 6M / 12M rows,
        # peaks at 256 / 408 / 418 MB at 256MB (at 512MB: 6M 450, 12M 632 MB), in the same time.
        # An in-memory database cannot spill: left uncapped.
        if not limit and conn.host != ":memory:":
            limit = default_memory_limit(int(self._one("SELECT current_setting('threads')")))
        if limit:
            self.db.execute(f"SET memory_limit = '{limit}'")
        self.conn = conn

    @classmethod
    def open(cls, conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> DuckDBWarehouse:
        return cls(conn)

    def close(self) -> None:
        self.db.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def execute(self, sql: str, params: list | tuple = ()) -> int:
        try:
            cur = self.db.execute(sql, list(params))
            if sql.lstrip().upper().startswith(("DELETE", "INSERT", "UPDATE")):
                row = cur.fetchone()
                return int(row[0]) if row else 0
            return -1
        except duckdb.Error as e:
            raise EngineError(f"DuckDB {self.conn}: {e}") from e

    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        try:
            cur = self.db.execute(sql, list(params))
            return [d[0] for d in cur.description or []], cur.fetchall()
        except duckdb.Error as e:
            raise EngineError(f"DuckDB {self.conn}: {e}") from e

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _fill_stage(self, data: StageInput, table_sql: str, columns: list[str]) -> int:
        if isinstance(data, LocalPartition):  # DuckDB's own Parquet reader, on every thread it has
            # the folder is ds=...: without hive_partitioning=false DuckDB would add a `ds` column
            sql = f"INSERT INTO {table_sql} SELECT * FROM read_parquet(?, hive_partitioning = false)"
            return self.execute(sql, [list(data.files)])
        if not isinstance(data, pa.RecordBatchReader):
            raise EngineError("DuckDB stages rows streamed from the lake, not a remote partition")
        view = f"_dagf_arrow_{_token()}"
        self.db.register(view, data)
        try:
            return self.execute(f'INSERT INTO {table_sql} SELECT * FROM "{view}"')
        finally:
            self.db.unregister(view)

    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        db = "temp" if temp else self._one("SELECT current_database()")
        rows = self.db.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [db, schema or "main", table],
        ).fetchall()
        return [(r[0], r[1]) for r in rows] or None

    def count(self, table_sql: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {table_sql}"))

    def _one(self, sql: str) -> Any:
        row = self.db.execute(sql).fetchone()
        assert row is not None  # an aggregate, current_database() or current_setting() always returns a row
        return row[0]
