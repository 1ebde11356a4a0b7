"""Athena "warehouse": the S3 lake partition IS the table; loading registers it in the Glue catalog.

Connection (Airflow conn_type `aws`, engine kind `aws`, used as target.conn_id): credentials
from the boto3 session the caller hands in (dag_factory.engine.aws); extra:

    {"region_name": "eu-west-1",     # optional, as for every AWS connection
     "endpoint_url": "http://...",   # optional (moto)
     "catalog_id": "123456789012",   # optional: another account's Glue catalog
     "database": "analytics"}        # Glue database when target.table has no "schema." part

`target.table` = `<glue database>.<table>`. No rows move at load time and no Athena query
runs: the catalog is written with Glue API calls (CreateDatabase, GetTable/CreateTable/
UpdateTable, GetPartition/CreatePartition/UpdatePartition), which is exactly what
`CREATE EXTERNAL TABLE` / `ALTER TABLE ADD PARTITION ... LOCATION` in Athena do, without
SQL text to quote and without an Athena result bucket. Athena then reads the Parquet
files under each registered location.

Load types on Athena (compare docs/load-types.md):

- **snapshot**: table partitioned by `snapshot_date date`; partition `snapshot_date=<ds>`
  LOCATION = the lake partition `.../ds=<ds>/`. Re-running a day rewrites that lake
  partition (extract) and re-registers the same location: that day's snapshot is replaced,
  history stays. Same as the definition.
- **incremental** (no primary key): table partitioned by `ds string`; partition `ds=<ds>` =
  the interval's rows. Re-running the interval replaces exactly its rows. Same as the
  definition, with one extra visible column `ds`. Needs intervals of at least a day (a
  sub-daily schedule puts several intervals into one ds partition: refused).
- **incremental with primary_key**: a merge across partitions needs row-level updates,
  i.e. an Iceberg table (MERGE INTO). Not supported: EngineError, nothing registered.
- **full_refresh**: unpartitioned table whose LOCATION is switched (UpdateTable, one
  catalog write) to the new run's lake partition `.../ds=<ds>/`: a query sees the old or
  the new data. Older partitions stay in the lake as history (expire them with a lifecycle
  rule).

Schema changes (load.on_schema_change, docs/schema-changes.md): incremental and snapshot update
the Glue table's columns (UpdateTable: added columns appended, widened types, dropped columns
under sync_all_columns) before the partition is registered; each partition keeps its own
columns (its files'), and Athena reads Parquet by column name, so older partitions show NULL in
columns they lack. A change Athena cannot read (anything but integer/float widening) fails
naming the column; nothing is registered. Unlike a SQL warehouse the new files are already in
the lake partition when load runs, so a re-run of an existing partition whose change fails is
read through the old table schema until fixed. full_refresh takes the new schema with the new
location.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine import schema_change
from dag_factory.engine.aws import AwsContext, AwsResolver, aws_for
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.identifiers import split_table, validate_identifier
from dag_factory.engine.lake_s3 import S3Partition, _client_error_code
from dag_factory.engine.warehouses.base import SNAPSHOT_COLUMN, DbapiFactory, LoadResult, StageInput, Warehouse
from dag_factory.engine.warehouses.capabilities import capabilities_for
from dag_factory.errors import ConnectionConfigError, EngineError

log = logging.getLogger(__name__)

INCREMENTAL_PARTITION = "ds"
PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}


@dataclass(frozen=True)
class _Plan:
    """What registering a partition needs, worked out without a catalog call."""

    database: str
    table: str
    columns: list[dict[str, str]]
    keys: list[dict[str, str]]  # partition keys
    value: str  # this interval's partition value ("" for full_refresh)


class AthenaWarehouse(Warehouse):
    """Registers lake partitions as Glue tables/partitions that Athena queries."""

    capabilities = capabilities_for("athena")

    def __init__(self, conn: ConnInfo, aws: AwsContext) -> None:
        self.conn = conn
        self.aws = aws
        self.glue = aws.client("glue")
        self.catalog: dict[str, str] = {"CatalogId": str(conn.extra["catalog_id"])} if conn.extra.get("catalog_id") else {}
        self.default_database = conn.extra.get("database")

    @classmethod
    def open(cls, conn: ConnInfo, aws: AwsResolver | None = None, dbapi: DbapiFactory | None = None) -> AthenaWarehouse:
        return cls(conn, aws_for(conn, aws))

    def close(self) -> None:
        self.glue.close()

    # -- the steps Athena has no SQL for -------------------------------------------
    def stage_query(self, target_table: str, interval: Interval, sql: str, params: list) -> int:
        raise EngineError("an Athena target runs no transforms: its tables are lake partitions registered in Glue")

    def staging_table(self, target_table: str, interval: Interval) -> tuple[str | None, str, str]:
        raise EngineError("an Athena target has no staging table: the lake partition is registered as it is")

    def fetch(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        raise EngineError("dag_factory runs no Athena queries (checks need a staging table)")

    def columns(self, schema: str | None, table: str, temp: bool = False) -> list[tuple[str, str]] | None:
        """(name, Glue type) of a registered table, partition keys last; None if not registered."""
        database, name = self._names(f"{schema}.{table}" if schema else table)
        found = self._get("get_table", DatabaseName=database, Name=name)
        if found is None:
            return None
        t = found["Table"]
        cols = t["StorageDescriptor"].get("Columns", []) + t.get("PartitionKeys", [])
        return [(c["Name"], c["Type"]) for c in cols]

    # -- Glue helpers -----------------------------------------------------------
    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.glue, op)(**self.catalog, **kwargs)
        except (ClientError, BotoCoreError) as e:
            raise EngineError(f"Glue {op} for connection {self.conn}: {e}") from e

    def _get(self, op: str, **kwargs: Any) -> Any | None:
        try:
            return getattr(self.glue, op)(**self.catalog, **kwargs)
        except (ClientError, BotoCoreError) as e:
            if _client_error_code(e) == "EntityNotFoundException":
                return None
            raise EngineError(f"Glue {op} for connection {self.conn}: {e}") from e

    def _ensure_database(self, database: str) -> None:
        try:
            self.glue.create_database(**self.catalog, DatabaseInput={"Name": database, "Description": "created by dag_factory"})
        except (ClientError, BotoCoreError) as e:
            if _client_error_code(e) != "AlreadyExistsException":
                raise EngineError(f"Glue create_database {database!r} for connection {self.conn}: {e}") from e

    def _names(self, target_table: str) -> tuple[str, str]:
        schema, table = split_table(target_table)
        database = schema or self.default_database
        if not database:
            raise ConnectionConfigError(
                f"Athena target {target_table!r}: name the Glue database as 'database.table' or set extra.database on {self.conn}"
            )
        return validate_identifier(database).lower(), table.lower()

    # -- write: nothing moves; the partition is checked against the mode -----------
    def _plan(self, target_table: str, load: Load, interval: Interval, data: StageInput) -> _Plan:
        if not isinstance(data, S3Partition):
            raise EngineError("an Athena target is the S3 lake itself; give the pipeline a lake on an AWS connection")
        part = data
        database, table = self._names(target_table)
        columns = [{"Name": validate_identifier(f.name).lower(), "Type": self.types.to_sql(f.type, f.name)} for f in part.schema]
        lowered = [c["Name"] for c in columns]
        if len(set(lowered)) != len(lowered):
            raise EngineError(f"columns {part.schema.names} collide in Athena, which lowercases names")
        if load.mode == "incremental":
            if load.primary_key and not self.capabilities.merges:
                raise EngineError(
                    f"Athena target {database}.{table}: incremental with primary_key (merge by key) needs an Iceberg "
                    "table, which dag_factory does not manage yet. Drop primary_key (each interval is its own ds "
                    "partition, replaced on re-run) or use snapshot / full_refresh."
                )
            if load.lookback:
                raise EngineError(
                    f"Athena target {database}.{table}: lookback re-reads earlier intervals, whose rows would then sit in "
                    "two ds partitions; drop lookback (or load into a warehouse that replaces the widened window)"
                )
            if interval.end - interval.start < self.capabilities.min_incremental_interval:
                raise EngineError(
                    f"Athena target {database}.{table}: incremental needs intervals of at least a day; interval {interval} "
                    f"shares the lake partition ds={interval.ds} with other intervals of the same day"
                )
            keys = [{"Name": INCREMENTAL_PARTITION, "Type": "string"}]
            value = interval.ds
        elif load.mode == "snapshot":
            keys = [{"Name": SNAPSHOT_COLUMN, "Type": "date"}]
            value = interval.ds
        elif load.mode == "full_refresh":
            keys, value = [], ""
        else:
            raise EngineError(f"unknown load mode {load.mode!r}")
        if {k["Name"] for k in keys} & set(lowered):
            raise EngineError(f"Athena target {database}.{table}: the source already has a column named {keys[0]['Name']!r}")
        return _Plan(database, table, columns, keys, value)

    def stage(self, target_table: str, load: Load, interval: Interval, data: StageInput) -> int:
        """Check the partition against the mode and names (no catalog call); the lake partition is the stage."""
        self._plan(target_table, load, interval, data)
        assert isinstance(data, S3Partition)
        return data.rows

    # -- publish: register the partition -------------------------------------------
    def publish(self, target_table: str, load: Load, interval: Interval, part: S3Partition | None = None) -> LoadResult:
        if part is None:
            raise EngineError("an Athena target is published from the lake partition; give the pipeline a lake")
        plan = self._plan(target_table, load, interval, part)
        database, table, columns, keys, value = plan.database, plan.table, plan.columns, plan.keys, plan.value
        self._ensure_database(database)
        existing = self._get("get_table", DatabaseName=database, Name=table)
        existing = existing["Table"] if existing else None
        params = {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "dag_factory.mode": load.mode,
            "dag_factory.lake": part.table_location,
        }
        run_params = {"dag_factory.rows": str(part.rows), "dag_factory.run": part.run, "dag_factory.ds": part.ds}

        if load.mode == "full_refresh":
            table_input = {
                "Name": table,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {**params, **run_params},
                "PartitionKeys": [],
                "StorageDescriptor": {"Columns": columns, "Location": part.location, **PARQUET_SD},
            }
            if existing is None:
                self._call("create_table", DatabaseName=database, TableInput=table_input)
                return LoadResult(inserted=part.rows, deleted=0)
            self._check_owner(database, table, existing, load.mode, part, keys)
            deleted = int(existing.get("Parameters", {}).get("dag_factory.rows", 0))
            self._call("update_table", DatabaseName=database, TableInput=table_input)
            return LoadResult(inserted=part.rows, deleted=deleted)

        if existing is None:
            self._call(
                "create_table",
                DatabaseName=database,
                TableInput={
                    "Name": table,
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": params,
                    "PartitionKeys": keys,
                    "StorageDescriptor": {"Columns": columns, "Location": part.table_location, **PARQUET_SD},
                },
            )
            changes: tuple[schema_change.Change, ...] = ()
        else:
            self._check_owner(database, table, existing, load.mode, part, keys)
            changes = self._evolve(database, table, existing, columns, load)
        partition_input = {
            "Values": [value],
            "Parameters": run_params,
            "StorageDescriptor": {"Columns": columns, "Location": part.location, **PARQUET_SD},
        }
        old = self._get("get_partition", DatabaseName=database, TableName=table, PartitionValues=[value])
        if old is None:
            self._call("create_partition", DatabaseName=database, TableName=table, PartitionInput=partition_input)
            return LoadResult(inserted=part.rows, deleted=0, changes=tuple(c.describe() for c in changes))
        deleted = int(old["Partition"].get("Parameters", {}).get("dag_factory.rows", 0))
        self._call(
            "update_partition",
            DatabaseName=database,
            TableName=table,
            PartitionValueList=[value],
            PartitionInput=partition_input,
        )
        return LoadResult(inserted=part.rows, deleted=deleted, changes=tuple(c.describe() for c in changes))

    def _check_owner(self, database: str, table: str, existing: dict, mode: str, part: S3Partition, keys: list[dict]) -> None:
        params = existing.get("Parameters", {})
        lake = params.get("dag_factory.lake")
        if lake != part.table_location:
            raise EngineError(
                f"Athena table {database}.{table} exists over {lake or existing['StorageDescriptor'].get('Location')!r}, "
                f"not over this pipeline's lake {part.table_location!r}; refusing to re-point it (drop it or pick another name)"
            )
        have_keys = [(k["Name"], k["Type"]) for k in existing.get("PartitionKeys", [])]
        want_keys = [(k["Name"], k["Type"]) for k in keys]
        if params.get("dag_factory.mode") != mode or have_keys != want_keys:
            raise EngineError(
                f"Athena table {database}.{table} was registered for load mode {params.get('dag_factory.mode')!r} "
                f"(partition keys {have_keys}), not {mode!r} (partition keys {want_keys}); drop it to change the mode"
            )

    def _evolve(
        self, database: str, table: str, existing: dict, columns: list[dict], load: Load
    ) -> tuple[schema_change.Change, ...]:
        """The Glue table's columns after load.on_schema_change (engine/schema_change.py). No staging
        table, so no value checks: a staged type must fit the table's by type, or widen it. The
        partition keeps its own columns (its Parquet files'); Athena reads Parquet by name, so a
        column a partition lacks is NULL there."""
        have = existing["StorageDescriptor"].get("Columns", [])
        plan = schema_change.plan(
            f"{database}.{table}",
            [(c["Name"], c["Type"]) for c in have],
            [(c["Name"], c["Type"]) for c in columns],
            load.on_schema_change,
            self.types,
            self.capabilities.widenings,
            lambda column, target: False,
        )
        plan.raise_problems()
        if plan.alters:
            new = {c.column: c.new for c in plan.alters if c.kind in ("add", "widen")}
            dropped = {c.column for c in plan.alters if c.kind == "drop"}
            kept = [{**c, "Type": new.pop(c["Name"], c["Type"])} for c in have if c["Name"] not in dropped]
            table_input = {
                k: v
                for k, v in existing.items()
                if k in ("Name", "Description", "Owner", "Retention", "PartitionKeys", "TableType", "Parameters")
            }
            sd = {**existing["StorageDescriptor"], "Columns": kept + [{"Name": n, "Type": t} for n, t in new.items()]}
            self._call("update_table", DatabaseName=database, TableInput={**table_input, "StorageDescriptor": sd})
        for c in plan.changes:
            (log.warning if c.kind == "ignore" else log.info)("%s.%s: %s", database, table, c.describe())
        return plan.changes
