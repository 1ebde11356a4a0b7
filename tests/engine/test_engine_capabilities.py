"""The warehouse interface: every warehouse is a complete implementation of it, its declared
capabilities are readable without a driver, and its type mapper agrees with its real catalog."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from typing import get_args

import pyarrow as pa
import pytest

from dag_factory.engine.lake import LoadsFrom
from dag_factory.engine.warehouses import Warehouse, capabilities_for
from dag_factory.engine.warehouses.capabilities import WAREHOUSES
from dag_factory.engine.warehouses.sql import SqlWarehouse
from dag_factory.engine.warehouses.types import PostgresTypes, SqlType
from dag_factory.errors import ConnectionConfigError
from tests.support.warehouses import WarehouseUnderTest


@pytest.mark.parametrize("kind", sorted(WAREHOUSES))
def test_every_warehouse_implements_the_whole_interface(kind):
    caps = capabilities_for(kind)
    cls = caps.warehouse_class()
    assert issubclass(cls, Warehouse) and not inspect.isabstract(cls), inspect.getattr_static(cls, "__abstractmethods__")
    assert cls.capabilities is caps
    # what the flow relies on between capabilities
    assert caps.runs_checks <= caps.stages_table
    assert caps.publishes_from_lake != caps.stages_table
    assert caps.loads_from and set(caps.loads_from) <= set(get_args(LoadsFrom))


def test_capabilities_need_no_driver_and_name_connection_kinds():
    code = (
        "import sys\n"
        "from dag_factory.engine.warehouses import capabilities_for\n"
        "print(sorted(capabilities_for(k).name for k in ('duckdb', 'postgresql', 'redshift', 'aws')))\n"
        "print(sorted(m for m in ('duckdb', 'psycopg', 'redshift_connector', 'boto3', 'botocore') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["['Athena', 'DuckDB', 'PostgreSQL', 'Redshift']", "[]"]
    with pytest.raises(ConnectionConfigError, match=r"kind 'mysql' cannot be a warehouse \(supported: aws \(Athena\), duckdb"):
        capabilities_for("mysql")


SAMPLE = [
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.float32(),
    pa.float64(),
    pa.bool_(),
    pa.string(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
    pa.decimal128(12, 2),
    pa.decimal128(38, 0),
]


def test_type_mapper_reads_back_what_the_real_catalog_reports(target_wh: WarehouseUnderTest):
    """DDL from the mapper, catalog text from the warehouse: parse() makes them the same type,
    which is what schema-drift handling compares."""
    with target_wh.open() as wh:
        assert isinstance(wh, SqlWarehouse)
        types = wh.types
        cols = [(f"c{i}", types.to_sql(t, f"c{i}")) for i, t in enumerate(SAMPLE)]
        wh.execute(f"CREATE TABLE typed ({', '.join(f'{n} {ddl}' for n, ddl in cols)})")
        catalog = wh.columns(None, "typed")
    assert catalog is not None and [n for n, _ in catalog] == [n for n, _ in cols]
    for (name, ddl), (_, reported) in zip(cols, catalog, strict=True):
        assert types.parse(reported) == types.parse(ddl) != SqlType("other"), (name, ddl, reported)


WIDEN = {  # widening -> (old Arrow type, new Arrow type, a value both hold)
    "integer": (pa.int32(), pa.int64(), 7),
    "float": (pa.float32(), pa.float64(), 0.5),
    "decimal_precision": (pa.decimal128(12, 2), pa.decimal128(14, 3), Decimal("1.25")),
    "integer_to_decimal": (pa.int32(), pa.decimal128(12, 2), 7),
    "varchar_length": (None, None, "abc"),  # DDL below: no Arrow type has a length
    "timestamp_precision": ("ms", "us", datetime(2024, 1, 1, 1, 2, 3, 456000)),  # DDL below, per warehouse
}
_TS_DDL = {"ms": {"duckdb": "TIMESTAMP_MS", "postgres": "TIMESTAMP(3)"}, "us": {"duckdb": "TIMESTAMP", "postgres": "TIMESTAMP"}}


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_declared_widenings_run_inside_a_transaction(kind, tmp_path, request):
    """Each widening a warehouse declares (capabilities.widenings) works on the real warehouse,
    inside a transaction, keeps the value, and the mapper names it from the catalog types."""
    from tests.support.warehouses import make_warehouse

    target = make_warehouse(kind, tmp_path, request)
    with target.open() as wh:
        assert isinstance(wh, SqlWarehouse)
        caps, types = wh.capabilities, wh.types
        assert "widen_column" in caps.alters_in_transaction
        for i, widening in enumerate(sorted(caps.widenings)):
            old_t, new_t, value = WIDEN[widening]
            if isinstance(old_t, str):
                old, new = _TS_DDL[old_t][kind], _TS_DDL[new_t][kind]
            else:
                old = types.to_sql(old_t, "v") if old_t else "VARCHAR(10)"
                new = types.to_sql(new_t, "v") if new_t else "VARCHAR(20)"
            with wh.transaction():
                wh.execute(f"CREATE TABLE w{i} (v {old})")
                wh.execute(f"INSERT INTO w{i} VALUES ({wh.placeholder})", [value])
                before = dict(wh.columns(None, f"w{i}") or [])["v"]
                wh.execute(f"ALTER TABLE w{i} ALTER COLUMN v TYPE {new}")
                after = dict(wh.columns(None, f"w{i}") or [])["v"]
            assert types.widening(types.parse(before), types.parse(after)) == widening, (before, after)
            assert wh.fetch(f"SELECT v FROM w{i}")[1] == [(value,)]


def test_widening_rules_on_catalog_text():
    t = PostgresTypes()

    def w(a: str, b: str) -> str | None:
        return t.widening(t.parse(a), t.parse(b))

    assert w("integer", "bigint") == "integer" and w("bigint", "integer") is None
    assert w("real", "double precision") == "float"
    assert w("numeric(12,2)", "numeric(14,2)") == "decimal_precision"
    assert w("numeric(12,2)", "numeric(12,3)") is None  # fewer digits before the point
    assert w("integer", "numeric(12,2)") == "integer_to_decimal" and w("bigint", "numeric(12,2)") is None
    assert w("character varying(10)", "character varying(20)") == "varchar_length"
    assert w("character varying(10)", "text") == "varchar_length" and w("text", "character varying(10)") is None
    assert w("timestamp without time zone", "timestamp with time zone") is None
    assert t.parse("timestamp(3) with time zone").family == "timestamptz"
    assert t.parse("TIMESTAMP WITH TIME ZONE") == t.parse("timestamptz")
