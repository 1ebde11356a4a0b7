"""What each warehouse can do, declared without importing its driver or connecting.

The write-audit-publish flow (engine/wap.py, engine/runner.py) asks these and never which
class it holds; lint can check a resolved pipeline against them with `capabilities_for(kind)`.
Adding a warehouse: its module (a Warehouse subclass with `capabilities = capabilities_for(...)`),
one entry in WAREHOUSES below, and its kind in the tests' warehouse parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Literal

from dag_factory.engine.connections import KINDS
from dag_factory.engine.lake import LoadsFrom
from dag_factory.engine.warehouses.types import (
    AthenaTypes,
    DuckDBTypes,
    PostgresTypes,
    RedshiftTypes,
    TypeMapper,
    Widening,
)
from dag_factory.errors import ConnectionConfigError

if TYPE_CHECKING:
    from dag_factory.engine.warehouses.base import Warehouse

LoadMode = Literal["incremental", "snapshot", "full_refresh", "history"]
Alter = Literal["add_column", "drop_column", "widen_column"]
ALL_MODES: frozenset[LoadMode] = frozenset({"incremental", "snapshot", "full_refresh"})
WITH_HISTORY: frozenset[LoadMode] = ALL_MODES | {"history"}  # SCD2 rebuild: window functions, IS NOT DISTINCT FROM


@dataclass(frozen=True)
class Capabilities:
    kind: str  # engine kind, e.g. "postgres"
    name: str  # for messages, e.g. "PostgreSQL"
    implementation: str  # "module:Class", imported only when a connection is opened
    loads_from: tuple[LoadsFrom, ...]  # what the stage step accepts, preferred first
    stages_table: bool  # write goes to a staging table before publish (checks run on it)
    publishes_from_lake: bool  # publish needs the lake partition (no staging table: the partition is the data)
    runs_checks: bool  # data-quality checks can query the staged rows
    runs_queries: bool  # a transform (source on the target connection) runs as SQL inside it
    load_modes: frozenset[LoadMode]
    merges: bool  # incremental with primary_key: staged keys replace the target's rows
    swaps_atomically: bool  # full_refresh: readers see the old or the new table, never a partial one
    alters_in_transaction: frozenset[Alter]  # column changes it can make inside the publish transaction
    widenings: frozenset[Widening]  # type widenings it can apply to an existing column (types.TypeMapper.widening)
    min_incremental_interval: timedelta = timedelta(0)  # shorter intervals would share a partition
    max_identifier_length: int = 63
    types: TypeMapper = field(default_factory=TypeMapper, compare=False)

    def warehouse_class(self) -> type[Warehouse]:
        module, _, cls = self.implementation.partition(":")
        found: type[Warehouse] = getattr(import_module(module), cls)
        return found


_ALL_ALTERS: frozenset[Alter] = frozenset({"add_column", "drop_column", "widen_column"})
_PKG = "dag_factory.engine.warehouses"

WAREHOUSES: dict[str, Capabilities] = {
    c.kind: c
    for c in (
        Capabilities(
            kind="duckdb",
            name="DuckDB",
            implementation=f"{_PKG}.duckdb:DuckDBWarehouse",
            loads_from=("local_files", "stream"),  # its own Parquet reader over a local lake's files
            stages_table=True,
            publishes_from_lake=False,
            runs_checks=True,
            runs_queries=True,
            load_modes=WITH_HISTORY,
            merges=True,
            swaps_atomically=True,
            alters_in_transaction=_ALL_ALTERS,
            widenings=frozenset(
                {"integer", "float", "decimal_precision", "integer_to_decimal", "timestamp_precision"}
            ),  # VARCHAR has no length
            max_identifier_length=255,
            types=DuckDBTypes(),
        ),
        Capabilities(
            kind="postgres",
            name="PostgreSQL",
            implementation=f"{_PKG}.postgres:PostgresWarehouse",
            loads_from=("stream",),
            stages_table=True,
            publishes_from_lake=False,
            runs_checks=True,
            runs_queries=True,
            load_modes=WITH_HISTORY,
            merges=True,
            swaps_atomically=True,
            alters_in_transaction=_ALL_ALTERS,
            widenings=frozenset(
                {"integer", "float", "decimal_precision", "integer_to_decimal", "varchar_length", "timestamp_precision"}
            ),
            types=PostgresTypes(),
        ),
        Capabilities(
            kind="redshift",
            name="Redshift",
            implementation=f"{_PKG}.redshift:RedshiftWarehouse",
            loads_from=("s3_partition",),  # COPY ... FORMAT AS PARQUET MANIFEST
            stages_table=True,
            publishes_from_lake=False,
            runs_checks=True,
            runs_queries=True,
            load_modes=ALL_MODES,
            merges=True,
            swaps_atomically=True,
            # ALTER COLUMN ... TYPE (VARCHAR length only) cannot run inside a transaction block, and
            # no ALTER is relied on inside one: additions/widenings commit just before the publish
            # transaction, drops just after (docs/schema-changes.md says what a reader sees)
            alters_in_transaction=frozenset(),
            widenings=frozenset({"varchar_length"}),
            max_identifier_length=127,
            types=RedshiftTypes(),
        ),
        Capabilities(
            kind="athena",
            name="Athena",
            implementation=f"{_PKG}.athena:AthenaWarehouse",
            loads_from=("s3_partition",),  # the partition is registered in Glue, no rows move
            stages_table=False,
            publishes_from_lake=True,
            runs_checks=False,
            runs_queries=False,
            load_modes=ALL_MODES,
            merges=False,  # needs Iceberg (MERGE INTO)
            swaps_atomically=True,  # full_refresh switches the table's LOCATION in one catalog write
            alters_in_transaction=frozenset(),
            widenings=frozenset({"integer", "float"}),  # what Athena's Parquet reader accepts after a schema update
            min_incremental_interval=timedelta(hours=23),  # one ds partition per interval
            max_identifier_length=255,
            types=AthenaTypes(),
        ),
    )
}
# connection kinds that name a warehouse differently: an `aws` target connection is Athena
_WAREHOUSE_KIND = {"aws": "athena"}


def warehouse_kind(conn_kind: str) -> str:
    kind = KINDS.get(conn_kind, conn_kind)
    return _WAREHOUSE_KIND.get(kind, kind)


def capabilities_for(conn_kind: str) -> Capabilities:
    """The capabilities of the warehouse a connection kind (or conn_type) serves; no driver import."""
    caps = WAREHOUSES.get(warehouse_kind(conn_kind))
    if caps is None:
        supported = ", ".join(sorted({*WAREHOUSES, "aws (Athena)"} - {"athena"}))
        raise ConnectionConfigError(f"kind {conn_kind!r} cannot be a warehouse (supported: {supported})")
    return caps
