"""`type: sql` on MySQL/MariaDB, against a real MariaDB server started by the tests.

The load modes reuse the independent model of test_engine_modes.py: the expected
warehouse (DuckDB) content is computed from a plain-Python model of the source and
of each mode's definition, never from the engine.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.normalize import normalize
from dag_factory.engine.runner import extract, load
from dag_factory.engine.sources import open_source
from dag_factory.errors import EngineError
from tests.engine.test_engine_modes import (
    INTERVALS,
    MODES,
    DuckWh,
    Row,
    initial_state,
    model_apply,
    model_extract,
    mutate_before_day2,
    mutate_before_day3,
    sort_key,
)
from tests.support.mariadb import MariaServer

pytestmark = pytest.mark.slow


def _read(src, source: SqlSource, load: Load, iv: Interval):
    """What the runner does: the reader's rows through the normalize step."""
    return normalize(src.read(source, load, iv), source, load, iv)


@pytest.fixture
def mysql_db(maria: MariaServer):
    with maria.fresh_database() as name:
        yield name


def _exec(maria: MariaServer, db: str, *statements: str, params: list | None = None, tz: str = "+00:00") -> None:
    with maria.connect(db) as c, c.cursor() as cur:
        cur.execute(f"SET time_zone = '{tz}'")
        for s in statements:
            if params is not None:
                cur.executemany(s, params)
            else:
                cur.execute(s)


class MysqlSrc:
    table = "orders"

    def __init__(self, maria: MariaServer, db: str, cursor_type: str) -> None:
        self.maria, self.db = maria, db
        self.conn = maria.conninfo(db)
        _exec(
            maria,
            db,
            f"CREATE TABLE orders (id INT PRIMARY KEY, name VARCHAR(100) NULL, amount DECIMAL(12,2) NULL, updated_at {cursor_type} NOT NULL)",
        )

    def sync(self, state: dict[int, Row]) -> None:
        _exec(self.maria, self.db, "DELETE FROM orders")
        # written in a UTC session: DATETIME holds UTC wall time, TIMESTAMP the UTC instant
        _exec(
            self.maria,
            self.db,
            "INSERT INTO orders VALUES (%s, %s, %s, %s)",
            params=[(r.id, r.name, r.amount, r.updated_at) for r in state.values()],
        )


@pytest.mark.parametrize("cursor_type", ["DATETIME(6)", "TIMESTAMP(6) NULL"])
@pytest.mark.parametrize("mode", list(MODES))
def test_mysql_mode_over_three_days(mode, cursor_type, maria, mysql_db, tmp_path):
    """incremental (with and without key), snapshot and full_refresh from MariaDB into DuckDB over
    three changing days, each day re-run, then replayed out of order into an empty warehouse."""
    source = MysqlSrc(maria, mysql_db, cursor_type)
    warehouse = DuckWh(tmp_path)
    snapshot = mode == "snapshot"
    lake_conn = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    pipeline = Pipeline(
        name="orders_daily",
        source=SqlSource(conn_id="src", table=source.table, batch_size=2),  # several batches per run
        load=MODES[mode],
        target=Target(conn_id="wh", table="analytics.orders"),
        lake=Lake("lake", "sales/orders"),
    )

    def run(iv: Interval) -> None:
        extract(pipeline, iv, source.conn, lake_conn)
        load(pipeline, iv, lake_conn, warehouse.conn)

    state = initial_state()
    expected: list = []
    for iv, mutate in zip(INTERVALS, [lambda s: None, mutate_before_day2, mutate_before_day3], strict=True):
        mutate(state)
        source.sync(state)
        run(iv)
        expected = sorted(model_apply(expected, mode, iv, model_extract(state, mode, iv)), key=sort_key)
        assert warehouse.fetch(snapshot) == expected, f"after {iv}"
        run(iv)
        assert warehouse.fetch(snapshot) == expected, f"after re-running {iv}"

    warehouse.reset()
    expected = []
    for i in (2, 0, 1):
        iv = INTERVALS[i]
        run(iv)
        expected = sorted(model_apply(expected, mode, iv, model_extract(state, mode, iv)), key=sort_key)
        assert warehouse.fetch(snapshot) == expected, f"out of order, after {iv}"


TYPES_DDL = """CREATE TABLE t (
  id INT NOT NULL PRIMARY KEY,
  d12 DECIMAL(12,2), d38 DECIMAL(38,10), d65 DECIMAL(65,30), du DECIMAL(10,3) UNSIGNED,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, yr YEAR, bits BIT(8),
  f FLOAT, dbl DOUBLE,
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6),
  s VARCHAR(50), txt TEXT, ch CHAR(3), en ENUM('a','b'), js JSON,
  bl BLOB, vb VARBINARY(10)
)"""


def _types_rows() -> list[tuple]:
    return [
        (
            1,
            Decimal("-1234567890.12"),
            Decimal("1234567890123456789012345678.0123456789"),
            Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
            Decimal("9999999.999"),
            -128,
            255,
            -32768,
            65535,
            -8388608,
            -2147483648,
            4294967295,
            -9223372036854775808,
            18446744073709551615,
            2024,
            b"\xa5",
            1.5,
            0.1,
            date(2024, 2, 29),
            datetime(2024, 3, 1, 23, 59, 59, 999999),
            datetime(2024, 3, 1, 12, 0, 0, 123456),  # written in a +09:00 session: the instant 03:00 UTC
            timedelta(hours=23, minutes=59, seconds=59, microseconds=5),
            "",  # '' is not NULL
            "héllo 😀 wörld",
            "abc",
            "b",
            '{"a": [1, 2]}',
            b"\x00\x01\xff",
            b"\x00",
        ),
        (2, *([None] * 28)),
    ]


def test_mysql_type_fidelity(maria, mysql_db):
    _exec(maria, mysql_db, TYPES_DDL)
    cols = 29
    _exec(maria, mysql_db, f"INSERT INTO t VALUES ({', '.join(['%s'] * cols)})", params=_types_rows(), tz="+09:00")
    iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    with open_source(maria.conninfo(mysql_db)) as src:
        schema, batches = _read(src, SqlSource("src", table="t"), Load("full_refresh"), iv)
        table = pa.Table.from_batches(list(batches), schema=schema).sort_by("id")
    expected_types = {
        "id": pa.int32(),
        "d12": pa.decimal128(12, 2),
        "d38": pa.decimal128(38, 10),
        "d65": pa.decimal256(65, 30),
        "du": pa.decimal128(10, 3),
        "ti": pa.int8(),
        "tiu": pa.int16(),
        "si": pa.int16(),
        "siu": pa.int32(),
        "mi": pa.int32(),
        "i": pa.int32(),
        "iu": pa.int64(),
        "bi": pa.int64(),
        "biu": pa.decimal128(20, 0),
        "yr": pa.int16(),
        "bits": pa.int64(),
        "f": pa.float32(),
        "dbl": pa.float64(),
        "dt": pa.date32(),
        "dtm": pa.timestamp("us"),
        "ts": pa.timestamp("us", tz="UTC"),
        "tm": pa.time64("us"),
        "s": pa.string(),
        "txt": pa.string(),
        "ch": pa.string(),
        "en": pa.string(),
        "js": pa.string(),
        "bl": pa.binary(),
        "vb": pa.binary(),
    }
    assert {f.name: f.type for f in schema} == expected_types
    row, nulls = table.to_pylist()
    assert all(v is None for k, v in nulls.items() if k != "id")
    assert row["d12"] == Decimal("-1234567890.12")
    assert row["d38"] == Decimal("1234567890123456789012345678.0123456789")
    assert row["d65"] == Decimal("12345678901234567890123456789012345.123456789012345678901234567890")
    assert row["du"] == Decimal("9999999.999")
    assert (row["ti"], row["tiu"], row["si"], row["siu"], row["mi"]) == (-128, 255, -32768, 65535, -8388608)
    assert (row["i"], row["iu"], row["bi"]) == (-2147483648, 4294967295, -9223372036854775808)
    assert row["biu"] == Decimal(18446744073709551615)
    assert (row["yr"], row["bits"], row["f"], row["dbl"]) == (2024, 0xA5, 1.5, 0.1)
    assert row["dt"] == date(2024, 2, 29)
    assert row["dtm"] == datetime(2024, 3, 1, 23, 59, 59, 999999)  # DATETIME: as written, no zone
    assert row["ts"] == datetime(2024, 3, 1, 3, 0, 0, 123456, tzinfo=UTC)  # TIMESTAMP: the instant, in UTC
    assert row["tm"] == time(23, 59, 59, 5)
    assert row["s"] == "" and nulls["s"] is None
    assert (row["txt"], row["ch"], row["en"]) == ("héllo 😀 wörld", "abc", "b")
    assert row["js"].replace(" ", "") == '{"a":[1,2]}'
    assert (row["bl"], row["vb"]) == (b"\x00\x01\xff", b"\x00")


def test_mysql_batches_query_template_and_percent(maria, mysql_db):
    """batch_size is honoured; a query's Jinja values are bound parameters; a literal % survives."""
    _exec(maria, mysql_db, "CREATE TABLE o (id INT PRIMARY KEY, note VARCHAR(20), day DATE)")
    rows = [(i, f"{i}% off" if i % 2 else "plain", date(2024, 3, 1) if i <= 5 else date(2024, 3, 2)) for i in range(1, 9)]
    _exec(maria, mysql_db, "INSERT INTO o VALUES (%s, %s, %s)", params=rows)
    iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    query = "select id, note from o where day = {{ ds }} and (note like '%off' or note = 'plain') order by id"
    with open_source(maria.conninfo(mysql_db)) as src:
        schema, batches = _read(src, SqlSource("src", query=query, batch_size=2), Load("snapshot"), iv)
        got = list(batches)
    assert [b.num_rows for b in got] == [2, 2, 1]
    assert pa.Table.from_batches(got).column("note").to_pylist() == ["1% off", "plain", "3% off", "plain", "5% off"]


def test_mysql_incremental_bounds_are_half_open_and_bound(maria, mysql_db):
    """Rows exactly at the interval end belong to the next interval; a cursor in a non-UTC
    TIMESTAMP session is compared as an instant."""
    _exec(maria, mysql_db, "CREATE TABLE e (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL)")
    _exec(
        maria,
        mysql_db,
        "INSERT INTO e VALUES (%s, %s)",
        params=[
            (1, "2024-03-01 09:00:00"),  # +09:00 session: 2024-03-01 00:00 UTC, the start: in
            (2, "2024-03-02 08:59:59.999999"),  # 23:59:59.999999 UTC: in
            (3, "2024-03-02 09:00:00"),  # 2024-03-02 00:00 UTC, the end: out
            (4, "2024-03-01 08:59:59"),  # before the start: out
        ],
        tz="+09:00",
    )
    iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    with open_source(maria.conninfo(mysql_db)) as src:
        _, batches = _read(src, SqlSource("src", table="e"), Load("incremental", cursor="ts"), iv)
        assert sorted(pa.Table.from_batches(list(batches)).column("id").to_pylist()) == [1, 2]


def test_mysql_abandoned_stream_and_errors(maria, mysql_db):
    """Stopping after the first batch of a large unbuffered result returns at once; errors are EngineErrors."""
    _exec(maria, mysql_db, "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(100))")
    _exec(
        maria,
        mysql_db,
        "INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_200000",
    )
    iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))

    def other_sessions() -> int:
        with maria.connect(mysql_db) as c, c.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", (mysql_db,)
            )
            return int(cur.fetchone()[0])

    before = other_sessions()
    with open_source(maria.conninfo(mysql_db)) as src:
        _, batches = _read(src, SqlSource("src", table="big", batch_size=100), Load("full_refresh"), iv)
        assert next(batches).num_rows == 100
        batches.close()  # abandon mid-stream (e.g. the lake write failed)
    # abandoning leaves no session or running query behind on the server (whichever reader served it)
    deadline = _time.monotonic() + 30
    while other_sessions() > before and _time.monotonic() < deadline:
        _time.sleep(0.2)
    assert other_sessions() == before
    with open_source(maria.conninfo(mysql_db)) as src:
        with pytest.raises(EngineError, match="cannot run the selection"):
            src.read(SqlSource("src", table="missing_table"), Load("full_refresh"), iv)
    bad = ConnInfo("src", "mysql", host=maria.host, port=maria.port, login=maria.user, password="wrong", database=mysql_db)
    with open_source(bad) as src, pytest.raises(EngineError, match="cannot connect") as err:
        src.read(SqlSource("src", table="big"), Load("full_refresh"), iv)
    assert "wrong" not in str(err.value)
