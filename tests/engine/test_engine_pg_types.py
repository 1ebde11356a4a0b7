"""The PostgreSQL reader's types, one per test, against a real PostgreSQL (issue 15, item 1).

Each column is read through the source the way an extract reads it (ADBC's binary COPY), and
compared with the Arrow type of the documented rule (dag_factory/engine/pg_arrow.py) and with
values written out here by hand, never with what another reader returns.
"""

from __future__ import annotations

import decimal
import random
from datetime import UTC, date, datetime, time
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from dag_factory.config.model import Load, SqlSource
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.normalize import normalize
from dag_factory.engine.sources import open_source
from dag_factory.errors import EngineError

DAY = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "UTC")


def _read(conn: ConnInfo, table: str = "t", query: str | None = None) -> pa.Table:
    with open_source(conn) as src:
        source = SqlSource(conn_id="pg", table=None if query else table, query=query)
        load = Load(mode="full_refresh")
        schema, batches = normalize(src.read(source, load, DAY), source, load, DAY)
        return pa.Table.from_batches(list(batches), schema=schema)


def _column(conn: ConnInfo, pg_type: str, literals: list[str], setup: str = "") -> tuple[pa.DataType, list]:
    """One column of `pg_type` holding `literals` (SQL), read back: (Arrow type, Python values in order)."""
    with psycopg.connect(host=conn.host, port=conn.port, user=conn.login, dbname=conn.database, autocommit=True) as pg:
        if setup:
            pg.execute(setup)
        pg.execute(f"CREATE TABLE t (i int, v {pg_type})")
        for i, lit in enumerate(literals):
            pg.execute(f"INSERT INTO t VALUES ({i}, {lit})")
    tbl = _read(conn, query="SELECT v FROM t ORDER BY i")
    return tbl.schema.field("v").type, tbl.column("v").to_pylist()


@pytest.mark.parametrize(
    ("pg_type", "literals", "arrow", "values"),
    [
        ("smallint", ["-32768", "32767", "NULL"], pa.int16(), [-32768, 32767, None]),
        ("integer", ["-2147483648", "2147483647"], pa.int32(), [-2147483648, 2147483647]),
        ("bigint", ["-9223372036854775808", "9223372036854775807"], pa.int64(), [-(2**63), 2**63 - 1]),
        ("boolean", ["true", "false", "NULL"], pa.bool_(), [True, False, None]),
        ("real", ["1.5", "'-Infinity'"], pa.float32(), [1.5, float("-inf")]),
        ("double precision", ["0.1", "'Infinity'", "-0.0"], pa.float64(), [0.1, float("inf"), -0.0]),
        ("oid", ["4294967295", "0"], pa.int64(), [4294967295, 0]),
        ("text", ["''", "NULL", "'é ☃ \"q\" , x'"], pa.string(), ["", None, 'é ☃ "q" , x']),
        ("varchar(10)", ["'a\nb'", "''"], pa.string(), ["a\nb", ""]),
        ("char(3)", ["'ab'", "NULL"], pa.string(), ["ab", None]),  # unpadded (docs/types.md)
        # only trailing blanks go, as the server's own ::text drops them; a tab or inner blanks stay
        ("char(4)", ["''", "' a b'", "E'a\\t'", "'é'"], pa.string(), ["", " a b", "a\t", "é"]),
        ("bytea", ["'\\x00ff'", "''", "NULL"], pa.binary(), [b"\x00\xff", b"", None]),
        (
            "date",
            ["'2024-02-29'", "'0001-01-01'", "'9999-12-31'"],
            pa.date32(),
            [date(2024, 2, 29), date(1, 1, 1), date(9999, 12, 31)],
        ),
        ("time", ["'23:59:59.999999'", "'00:00'"], pa.time64("us"), [time(23, 59, 59, 999999), time(0, 0)]),
        (
            "timestamp",
            ["'2024-03-01 12:34:56.123456'", "'0001-01-01 00:00'"],
            pa.timestamp("us"),
            [datetime(2024, 3, 1, 12, 34, 56, 123456), datetime(1, 1, 1)],
        ),
        (
            "timestamptz",
            ["'2024-03-01 12:34:56.123456+02'", "'2024-03-01 00:00:00-11:30'"],
            pa.timestamp("us", tz="UTC"),
            [datetime(2024, 3, 1, 10, 34, 56, 123456, tzinfo=UTC), datetime(2024, 3, 1, 11, 30, tzinfo=UTC)],
        ),
        (
            "numeric(12,2)",
            ["1234567890.12", "-0.01", "NULL"],
            pa.decimal128(12, 2),
            [Decimal("1234567890.12"), Decimal("-0.01"), None],
        ),
        ("numeric(38,0)", ["-" + "9" * 38], pa.decimal128(38, 0), [Decimal("-" + "9" * 38)]),
        (
            "numeric(40,5)",
            ["12345678901234567890123456789012345.12345"],
            pa.decimal256(40, 5),
            [Decimal("12345678901234567890123456789012345.12345")],
        ),
        (
            "numeric",
            ["12345678901234567890.123456789", "0.000000001", "-5"],
            pa.decimal128(38, 9),
            [Decimal("12345678901234567890.123456789"), Decimal("0.000000001"), Decimal("-5.000000000")],
        ),
        (
            "uuid",
            ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "NULL"],
            pa.string(),
            ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None],
        ),
        ("json", ['\'{"b": 1,  "a": [1, 2.50]}\''], pa.string(), ['{"b": 1,  "a": [1, 2.50]}']),
        ("jsonb", ['\'{"b": 1,  "a": [1, 2.50]}\'', "'null'"], pa.string(), ['{"a": [1, 2.50], "b": 1}', "null"]),
        ("interval", ["'1 year 2 mons 3 days 04:05:06.789'", "'-1 day'"], pa.string(), ["P1Y2M3DT4H5M6.789S", "P-1D"]),
        ("integer[]", ["'{1,NULL,3}'", "'{}'", "NULL"], pa.list_(pa.int32()), [[1, None, 3], [], None]),
        ("text[]", ['\'{"x","y z",""}\''], pa.list_(pa.string()), [["x", "y z", ""]]),
        ("inet", ["'10.0.0.1/8'"], pa.string(), ["10.0.0.1/8"]),
        ("money", ["12.34"], pa.string(), ["$12.34"]),
    ],
)
def test_type(pg_conn: ConnInfo, pg_type: str, literals: list[str], arrow: pa.DataType, values: list) -> None:
    got_type, got = _column(pg_conn, pg_type, literals)
    assert got_type == arrow
    assert got == values


def test_enum_is_its_label(pg_conn: ConnInfo) -> None:
    got_type, got = _column(pg_conn, "mood", ["'happy'", "NULL"], setup="CREATE TYPE mood AS ENUM ('sad', 'happy')")
    assert (got_type, got) == (pa.string(), ["happy", None])


def _numeric_literals(scale: int, digits: int, n: int) -> list[str]:
    """Edges of PostgreSQL's base-10000 digit groups, then `n` seeded values of every length."""
    rng = random.Random(15)
    decimal.getcontext().prec = 80  # this test's thread: 38 digits exceed the default 28
    unit = Decimal(1).scaleb(-scale)
    top = Decimal(10) ** (digits - scale) - unit
    edges = [Decimal(0), unit, Decimal("0.1"), Decimal(1), Decimal("9999.99"), Decimal(10000), Decimal("10000.01"), top]
    edges += [Decimal(10) ** k for k in range(digits - scale)] + [Decimal(10) ** k - unit for k in range(1, digits - scale)]
    values = [v.quantize(unit) for v in edges if v <= top]
    for _ in range(n):
        width = rng.randint(1, digits)
        values.append(Decimal(rng.randrange(10**width)).scaleb(-scale))
    return [str(v) for v in values] + [str(-v) for v in values if v]


@pytest.mark.parametrize(
    ("pg_type", "digits", "scale"), [("numeric(15,2)", 15, 2), ("numeric(20,4)", 20, 4), ("numeric(38,10)", 38, 10)]
)
def test_numeric_digits_groups_are_exact(pg_conn: ConnInfo, pg_type: str, digits: int, scale: int) -> None:
    """The driver turns binary numeric (base-10000 digit groups, a weight and a display scale) into
    decimal text: every group edge and 300 random widths come back as the same decimal."""
    literals = _numeric_literals(scale, digits, 300)
    with psycopg.connect(
        host=pg_conn.host, port=pg_conn.port, user=pg_conn.login, dbname=pg_conn.database, autocommit=True
    ) as pg:
        pg.execute(f"CREATE TABLE t (i int, v {pg_type})")
        with pg.cursor().copy("COPY t (i, v) FROM STDIN") as cp:
            for i, lit in enumerate(literals):
                cp.write_row((i, lit))
    tbl = _read(pg_conn, query="SELECT v FROM t ORDER BY i")
    assert tbl.schema.field("v").type == pa.decimal128(digits, scale)
    assert tbl.column("v").to_pylist() == [Decimal(lit) for lit in literals]


def test_nan_numeric_is_not_a_decimal(pg_conn: ConnInfo) -> None:
    with pytest.raises(EngineError, match="column 'v'.*decimal128\\(12, 2\\)"):
        _column(pg_conn, "numeric(12,2)", ["'NaN'"])


def test_unconstrained_numeric_never_rounds(pg_conn: ConnInfo) -> None:
    """numeric without precision is decimal128(38,9); a value needing a 10th decimal fails, naming the column."""
    with pytest.raises(EngineError, match="column 'v'.*numeric\\(38,18\\)"):
        _column(pg_conn, "numeric", ["1.5", "0.0000000001"])


def test_quoted_names_and_query_parameters(pg_conn: ConnInfo) -> None:
    """Odd column names survive the outer SELECT; the interval bounds are bound literally (COPY takes no parameters)."""
    with psycopg.connect(
        host=pg_conn.host, port=pg_conn.port, user=pg_conn.login, dbname=pg_conn.database, autocommit=True
    ) as pg:
        pg.execute('CREATE TABLE t ("Odd ""name""" text, "ts" timestamptz, u uuid)')
        pg.execute("INSERT INTO t VALUES ('it''s', '2024-03-01 23:59:59.999999+00', NULL), ('no', '2024-03-02', NULL)")
    q = "SELECT * FROM t WHERE ts >= {{ data_interval_start }} AND ts < {{ data_interval_end }} AND 'x%' LIKE 'x%'"
    tbl = _read(pg_conn, query=q)
    assert tbl.column_names == ['Odd "name"', "ts", "u"]
    assert tbl.column('Odd "name"').to_pylist() == ["it's"]
    assert tbl.schema.field("u").type == pa.string()


def test_multidimensional_array_fails_instead_of_flattening(pg_conn: ConnInfo) -> None:
    """The binary reader would flatten {{1,2},{3,4}} into [1,2,3,4]: that row fails, naming the column."""
    with pytest.raises(EngineError, match="multi-dimensional array in column v"):
        _column(pg_conn, "integer[]", ["'{1,2}'", "'{{1,2},{3,4}}'"])
