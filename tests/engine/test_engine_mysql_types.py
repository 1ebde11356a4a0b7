"""The MySQL/MariaDB reader's exactness, against a real MariaDB (issue 15, item 2).

Results that connectorx reads exactly go through it; wider decimals fall back to PyMySQL.
Either way the values here are written out by hand: decimals, unsigned integers,
microseconds, '' vs NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest

from dag_factory.config.model import Load, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine import mysql_arrow
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.normalize import normalize
from dag_factory.engine.sources import open_source
from dag_factory.errors import ConnectionConfigError
from tests.support.mariadb import MariaServer

pytestmark = pytest.mark.slow
DAY = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "UTC")


@pytest.fixture
def db(maria: MariaServer) -> Iterator[str]:
    with maria.fresh_database() as name:
        yield name


def _read(maria: MariaServer, db: str, ddl: str, rows: str, tz: str = "+00:00", reader: str = "auto") -> pa.Table:
    with maria.connect(db) as c, c.cursor() as cur:
        cur.execute(f"SET time_zone = '{tz}'")
        cur.execute(f"CREATE TABLE t (i int PRIMARY KEY, {ddl})")
        cur.execute(f"INSERT INTO t VALUES {rows}")
    with open_source(replace(maria.conninfo(db), extra={"reader": reader})) as src:
        source, load = SqlSource(conn_id="src", query="SELECT * FROM t ORDER BY i"), Load(mode="full_refresh")
        schema, batches = normalize(src.read(source, load, DAY), source, load, DAY)
        return pa.Table.from_batches(list(batches), schema=schema).drop(["i"])


@pytest.mark.parametrize("reader", ["auto", "pymysql"])  # connectorx, and PyMySQL forced by the connection
def test_exact_values_through_either_reader(maria: MariaServer, db: str, reader: str) -> None:
    ddl = (
        "d decimal(12,2), d28 decimal(28,10), ubi bigint unsigned, ui int unsigned, uti tinyint unsigned, "
        "bi bigint, dt datetime(6), ts timestamp(6) NULL, t time(6), dd date, s varchar(10), tx text, "
        "bt bit(10), bl blob, y year, e enum('a','b'), j json"
    )
    rows = (
        "(1, 1234567890.12, 123456789012345678.0123456789, 18446744073709551615, 4294967295, 255, -9223372036854775808, "
        "'2024-03-01 12:34:56.123456', '2024-03-01 14:34:56.654321', '23:59:59.999999', '2024-02-29', '', '', "
        "b'1111111111', x'00ff', 2024, 'b', '{\"a\": 1}'), "
        "(2, -0.01, -0.0000000001, 0, 0, 0, 9223372036854775807, '1000-01-01 00:00:00', '2000-01-01 00:00:01', "
        "'00:00:00', '1000-01-01', NULL, NULL, b'0', x'', 1901, NULL, NULL)"
    )
    tbl = _read(maria, db, ddl, rows, tz="+02:00", reader=reader)  # written at +02:00: TIMESTAMP comes back in UTC
    assert tbl.schema.field("d").type == pa.decimal128(12, 2)
    assert tbl.schema.field("ubi").type == pa.decimal128(20, 0)
    assert tbl.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    got = tbl.to_pydict()
    assert got["d"] == [Decimal("1234567890.12"), Decimal("-0.01")]
    assert got["d28"] == [Decimal("123456789012345678.0123456789"), Decimal("-0.0000000001")]
    assert got["ubi"] == [Decimal(18446744073709551615), Decimal(0)]
    assert got["ui"] == [4294967295, 0]
    assert got["uti"] == [255, 0]
    assert got["bi"] == [-(2**63), 2**63 - 1]
    assert got["dt"] == [datetime(2024, 3, 1, 12, 34, 56, 123456), datetime(1000, 1, 1)]
    assert got["ts"] == [datetime(2024, 3, 1, 12, 34, 56, 654321, tzinfo=UTC), datetime(1999, 12, 31, 22, 0, 1, tzinfo=UTC)]
    assert got["t"] == [time(23, 59, 59, 999999), time(0, 0)]
    assert got["dd"] == [date(2024, 2, 29), date(1000, 1, 1)]
    assert got["s"] == ["", None] and got["tx"] == ["", None]
    assert got["bt"] == [1023, 0]
    assert got["bl"] == [b"\x00\xff", b""]
    assert got["y"] == [2024, 1901]
    assert got["e"] == ["b", None]
    assert got["j"] == ['{"a": 1}', None]


def test_wide_decimals_fall_back_and_stay_exact(maria: MariaServer, db: str) -> None:
    big = "12345678901234567890123456789012345.123456789012345678901234567890"
    tbl = _read(maria, db, "w decimal(65,30), n decimal(38,0)", f"(1, {big}, {'9' * 38}), (2, NULL, -1)")
    assert tbl.schema.field("w").type == pa.decimal256(65, 30)
    assert tbl.column("w").to_pylist() == [Decimal(big), None]
    assert tbl.column("n").to_pylist() == [Decimal("9" * 38), Decimal(-1)]


def test_which_results_connectorx_reads() -> None:
    """Only what it reads exactly: decimals up to 28 digits and scale 10, no TLS settings."""
    conn = ConnInfo("src", "mysql", host="h")
    ok = pa.schema([("a", pa.decimal128(28, 10)), ("u", pa.decimal128(20, 0)), ("s", pa.string())])
    assert mysql_arrow.eligible(conn, ok, [246, 8, 253])
    assert not mysql_arrow.eligible(conn, pa.schema([("a", pa.decimal128(29, 2))]), [246])
    assert not mysql_arrow.eligible(conn, pa.schema([("a", pa.decimal128(12, 11))]), [246])
    assert not mysql_arrow.eligible(ConnInfo("src", "mysql", host="h", extra={"ssl": {"ca": "x"}}), ok, [246, 8, 253])
    assert not mysql_arrow.eligible(conn, pa.schema([("g", pa.binary())]), [255])
    assert not mysql_arrow.eligible(ConnInfo("src", "mysql", host="h", extra={"reader": "pymysql"}), ok, [246, 8, 253])
    with pytest.raises(
        ConnectionConfigError, match=r"connection src \(mysql\): extra.reader must be one of auto, pymysql, not 'fast'"
    ):
        mysql_arrow.eligible(ConnInfo("src", "mysql", host="h", extra={"reader": "fast"}), ok, [246, 8, 253])


def test_an_unknown_reader_is_named_before_any_row_is_read(maria: MariaServer, db: str) -> None:
    with pytest.raises(ConnectionConfigError, match=r"connection src \(mysql\): extra.reader must be one of auto, pymysql"):
        _read(maria, db, "d decimal(12,2)", "(1, 1.50)", reader="fast")
