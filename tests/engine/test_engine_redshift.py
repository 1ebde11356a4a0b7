"""Redshift warehouse: the exact COPY it issues, and every other statement run against a real
PostgreSQL (Redshift's dialect is a PostgreSQL 8 descendant; the SQL used is the common subset).
The warehouse runs unchanged on a DB-API connection to PostgreSQL (tests/support/redshift_on_pg)
that carries out the one statement PostgreSQL cannot run, the COPY, from the very files the
manifest lists (read from moto over HTTP). Nothing here talks to Redshift."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake_s3 import S3Partition
from dag_factory.engine.runner import extract, load, stage_from_lake
from dag_factory.engine.warehouses.redshift import RedshiftWarehouse
from dag_factory.errors import ConnectionConfigError, EngineError
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture)
from tests.support.redshift_on_pg import RedshiftOnPostgres

pytestmark = pytest.mark.postgres

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
IVS = [Interval(DAY1 + timedelta(days=i), DAY1 + timedelta(days=i + 1)) for i in range(3)]
ROLE = "arn:aws:iam::123456789012:role/RedshiftCopy"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute)


class Env:
    """SQLite source -> S3 lake (moto) -> 'Redshift' (PostgreSQL behind a DB-API connection)."""

    def __init__(self, m, pg_conn: ConnInfo, tmp: Path) -> None:
        self.m = m
        self.bucket = m.new_bucket()
        self.aws = lambda c: AwsContext(m.shared_session(), m.endpoint_url)
        self.lake_conn = ConnInfo("lake", "aws", extra={"bucket": self.bucket, "prefix": "raw"})
        self.src_path = tmp / "src.sqlite"
        with sqlite3.connect(self.src_path) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC(12,2), updated_at TIMESTAMP)")
        self.src = ConnInfo("src", "sqlite", host=str(self.src_path))
        self.pg = pg_conn
        self.wh = ConnInfo("rs", "redshift", host="cluster.example", port=5439, database="dev", extra={"iam_role": ROLE})
        self.connections: list[RedshiftOnPostgres] = []  # one per warehouse opened, in order
        self.fail_at: str | None = None
        self.path = "shop/orders"

    def dbapi(self, conn: ConnInfo) -> RedshiftOnPostgres:
        assert conn.kind == "redshift"
        db = RedshiftOnPostgres(self.pg, self.m.client("s3"))
        db.fail_at = self.fail_at
        self.connections.append(db)
        return db

    @property
    def statements(self) -> list[list[str]]:
        """The statements each opened warehouse sent, without catalog and count reads."""
        return [c.writes() for c in self.connections]

    @property
    def copies(self) -> list[str]:
        return [s for c in self.connections for s in c.copies]

    def put(self, rows) -> None:
        with sqlite3.connect(self.src_path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                [(i, n, None if a is None else str(a), t.strftime("%Y-%m-%d %H:%M:%S")) for i, n, a, t in rows],
            )

    def delete(self, *ids: int) -> None:
        with sqlite3.connect(self.src_path) as db:
            db.executemany("DELETE FROM orders WHERE id = ?", [(i,) for i in ids])

    def run(self, p: Pipeline, iv: Interval):
        extract(p, iv, self.src, self.lake_conn, aws=self.aws)
        return load(p, iv, self.lake_conn, self.wh, aws=self.aws, dbapi=self.dbapi)

    def target(self, snapshot: bool = False) -> list[tuple]:
        c = self.pg
        cols = "id, name, amount, updated_at" + (", snapshot_date" if snapshot else "")
        with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database) as db:
            return sorted(
                db.execute(f"SELECT {cols} FROM analytics.orders").fetchall(), key=lambda r: (r[-1], r[0]) if snapshot else r
            )

    def pipeline(self, load_cfg: Load) -> Pipeline:
        return Pipeline(
            "orders", SqlSource("src", table="orders"), load_cfg, Target("rs", "analytics.orders"), lake=Lake("lake", self.path)
        )


@pytest.fixture
def env(moto_aws, pg_conn, tmp_path):  # noqa: F811
    return Env(moto_aws, pg_conn, tmp_path)


DAY1_ROWS = [
    (1, "a", Decimal("1.10"), _at(1, 0)),
    (2, "b", None, _at(1, 9)),
    (3, "", Decimal("-3.00"), _at(1, 23, 59)),
    (4, "d", Decimal("4.00"), _at(2, 0)),
]


def _norm(stmts: list[str]) -> list[str]:
    return [re.sub(r"_dagf_old_[0-9a-f]{16}", "_dagf_old_T", s) for s in stmts]


def test_incremental_with_key_statements_and_result(env):
    p = env.pipeline(Load("incremental", cursor="updated_at", primary_key=("id",)))
    env.put(DAY1_ROWS)
    r1 = env.run(p, IVS[0])
    assert (r1.inserted, r1.deleted) == (3, 0)
    # day 2: row 2 moves into day 2 (merge by key removes its day-1 version), row 5 arrives
    env.put([(2, "b2", Decimal("2.20"), _at(2, 5)), (5, "e", Decimal("5.00"), _at(2, 6))])
    r2 = env.run(p, IVS[1])
    assert (r2.inserted, r2.deleted) == (3, 1)
    # re-running day 2 replaces exactly the day-2 rows
    r2b = env.run(p, IVS[1])
    assert (r2b.inserted, r2b.deleted) == (3, 3)
    assert env.target() == [
        (1, "a", Decimal("1.10"), _at(1, 0)),
        (2, "b2", Decimal("2.20"), _at(2, 5)),
        (3, "", Decimal("-3.00"), _at(1, 23, 59)),
        (4, "d", Decimal("4.00"), _at(2, 0)),
        (5, "e", Decimal("5.00"), _at(2, 6)),
    ]
    bucket = env.bucket
    assert env.copies[1] == (
        f"""COPY "analytics"."_dagf_stage_orders_20240302" FROM 's3://{bucket}/raw/shop/orders/_manifests/ds=2024-03-02.json' """
        "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy' FORMAT AS PARQUET MANIFEST"
    )
    cols = '"id", "name", "amount", "updated_at"'
    ddl = '"id" BIGINT, "name" VARCHAR(65535), "amount" NUMERIC(12,2), "updated_at" TIMESTAMP'
    stage = '"analytics"."_dagf_stage_orders_20240302"'
    assert env.statements[1] == [
        'CREATE SCHEMA IF NOT EXISTS "analytics"',
        f"DROP TABLE IF EXISTS {stage}",
        f"CREATE TABLE {stage} ({ddl})",
        f"COPY {stage} FROM 's3://{bucket}/raw/shop/orders/_manifests/ds=2024-03-02.json' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST",
        "BEGIN",
        'DELETE FROM "analytics"."orders" WHERE ("updated_at" >= %s AND "updated_at" < %s)',
        f'DELETE FROM "analytics"."orders" USING {stage} WHERE "analytics"."orders"."id" = {stage}."id"',
        f'INSERT INTO "analytics"."orders" ({cols}) SELECT {cols} FROM {stage}',
        f"DROP TABLE {stage}",
        "COMMIT",
    ]
    assert env.statements[0][4:6] == [
        "BEGIN",
        f'CREATE TABLE "analytics"."orders" AS SELECT {cols} FROM "analytics"."_dagf_stage_orders_20240301" LIMIT 0',
    ]


def test_incremental_without_key_replaces_the_interval(env):
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    env.put([(2, "b2", Decimal("2.20"), _at(2, 5))])
    env.run(p, IVS[1])
    # without a key the day-1 version of row 2 stays (append history), as defined
    assert [r[:2] for r in env.target()] == [(1, "a"), (2, "b"), (2, "b2"), (3, ""), (4, "d")]
    env.delete(3)
    res = env.run(p, IVS[0])  # re-load day 1 after a hard delete: the interval is replaced
    assert (res.inserted, res.deleted) == (1, 3)
    assert [r[:2] for r in env.target()] == [(1, "a"), (2, "b2"), (4, "d")]


def test_snapshot_replaces_one_day(env):
    p = env.pipeline(Load("snapshot"))
    env.put(DAY1_ROWS[:2])
    env.run(p, IVS[0])
    env.put([(5, "e", None, _at(2, 1))])
    env.run(p, IVS[1])
    env.delete(1)
    res = env.run(p, IVS[1])  # re-run day 2: only that day's snapshot changes
    assert (res.inserted, res.deleted) == (2, 3)
    got = [(r[0], r[4].isoformat()) for r in env.target(snapshot=True)]
    assert got == [(1, "2024-03-01"), (2, "2024-03-01"), (2, "2024-03-02"), (5, "2024-03-02")]
    ins = [s for s in env.statements[-1] if s.startswith(("DELETE", "INSERT"))]
    assert ins == [
        'DELETE FROM "analytics"."orders" WHERE "snapshot_date" = %s',
        'INSERT INTO "analytics"."orders" ("id", "name", "amount", "updated_at", "snapshot_date") '
        'SELECT "id", "name", "amount", "updated_at", CAST(%s AS DATE) FROM "analytics"."_dagf_stage_orders_20240302"',
    ]


def test_full_refresh_swaps_in_one_transaction(env):
    p = env.pipeline(Load("full_refresh"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    env.delete(1, 2)
    res = env.run(p, IVS[1])
    assert (res.inserted, res.deleted) == (2, 4)
    assert [r[0] for r in env.target()] == [3, 4]
    stage = '"analytics"."_dagf_stage_orders_20240302"'
    assert _norm(env.statements[-1]) == [
        'CREATE SCHEMA IF NOT EXISTS "analytics"',
        f"DROP TABLE IF EXISTS {stage}",
        f'CREATE TABLE {stage} ("id" BIGINT, "name" VARCHAR(65535), "amount" NUMERIC(12,2), "updated_at" TIMESTAMP)',
        f"COPY {stage} FROM 's3://{env.bucket}/raw/shop/orders/_manifests/ds=2024-03-02.json' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST",
        "BEGIN",
        'ALTER TABLE "analytics"."orders" RENAME TO "_dagf_old_T"',
        f'ALTER TABLE {stage} RENAME TO "orders"',
        'DROP TABLE "analytics"."_dagf_old_T"',
        "COMMIT",
    ]
    c = env.pg
    with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database) as db:
        left = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'analytics'").fetchall()
    assert left == [("orders",)]


def test_changed_columns_fail_under_policy_fail_and_leave_the_target(env):
    p = env.pipeline(Load("incremental", cursor="updated_at", on_schema_change="fail"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    before = env.target()
    with sqlite3.connect(env.src_path) as db:
        db.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    with pytest.raises(EngineError, match=r"new column note"):
        env.run(p, IVS[0])
    assert env.target() == before
    assert "BEGIN" not in env.statements[-1]  # checked before any ALTER or the publish transaction


def test_a_new_column_is_added_before_the_publish_transaction(env):
    """Redshift: no ALTER inside the transaction block; the addition commits on its own first."""
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    with sqlite3.connect(env.src_path) as db:
        db.execute("ALTER TABLE orders ADD COLUMN note TEXT")
        db.execute("UPDATE orders SET note = 'n' || id")
    res = env.run(p, IVS[0])
    assert res.changes == ("added column note character varying(65535)",)
    writes = env.statements[-1]
    alter = 'ALTER TABLE "analytics"."orders" ADD COLUMN "note" character varying(65535)'
    assert writes.index(alter) < writes.index("BEGIN")
    c = env.pg
    with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database) as db:
        assert db.execute("SELECT id, note FROM analytics.orders ORDER BY id").fetchall() == [(1, "n1"), (2, "n2"), (3, "n3")]


def _pg(env):
    c = env.pg
    return psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database, autocommit=True)


def test_a_hand_made_varchar_target_loads_while_values_fit_then_widens_before_the_transaction(env):
    with _pg(env) as db:
        db.execute(
            "CREATE SCHEMA analytics; CREATE TABLE analytics.orders "
            "(id bigint, name varchar(10), amount numeric(12,2), updated_at timestamp)"
        )
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put(DAY1_ROWS)
    res = env.run(p, IVS[0])
    assert "loaded name character varying(65535) into the target's character varying(10) (the values fit)" in res.changes
    assert not any(s.startswith("ALTER TABLE") for s in env.statements[-1])
    env.put([(5, "x" * 11, Decimal("5.00"), _at(1, 10))])
    res = env.run(p, IVS[0])
    assert "widened name character varying(10) -> character varying(65535)" in res.changes
    writes = env.statements[-1]
    alter = 'ALTER TABLE "analytics"."orders" ALTER COLUMN "name" TYPE character varying(65535)'
    assert writes.index(alter) < writes.index("BEGIN")  # Redshift: not inside a transaction block
    assert sorted(r[1] for r in env.target()) == ["", "a", "b", "x" * 11]


def test_sync_drops_a_column_after_the_publish_transaction(env):
    p = env.pipeline(Load("incremental", cursor="updated_at", on_schema_change="sync_all_columns"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    with sqlite3.connect(env.src_path) as db:
        db.execute("ALTER TABLE orders DROP COLUMN name")
    res = env.run(p, IVS[0])
    assert res.changes == ("dropped column name character varying(65535)",)
    writes = env.statements[-1]
    assert writes.index("COMMIT") < writes.index('ALTER TABLE "analytics"."orders" DROP COLUMN "name"')
    with _pg(env) as db:
        cols = [r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'")]
    assert "name" not in cols and len(cols) == 3


def test_a_widening_redshift_cannot_make_fails_before_any_statement(env):
    with _pg(env) as db:
        db.execute(
            "CREATE SCHEMA analytics; CREATE TABLE analytics.orders "
            "(id integer, name varchar(65535), amount numeric(12,2), updated_at timestamp)"
        )
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put([(3_000_000_000, "big", None, _at(1, 1))])
    with pytest.raises(EngineError, match=r"column id: widening integer -> bigint is not something this warehouse can do"):
        env.run(p, IVS[0])
    assert "BEGIN" not in env.statements[-1] and not any(s.startswith("ALTER") for s in env.statements[-1])


def test_a_failing_statement_rolls_the_transaction_back(env):
    p = env.pipeline(Load("incremental", cursor="updated_at"))
    env.put(DAY1_ROWS)
    env.run(p, IVS[0])
    before = env.target()
    env.fail_at = "INSERT INTO"  # the cluster rejects the INSERT, after the DELETE, inside the transaction
    with pytest.raises(EngineError, match="division by zero"):
        env.run(p, IVS[0])
    assert env.target() == before
    assert env.statements[-1][-1] == "ROLLBACK" and "COMMIT" not in env.statements[-1]


def test_connection_checks(env, tmp_path):
    base = ConnInfo("rs", "redshift", host="h", extra={})
    with pytest.raises(ConnectionConfigError, match="iam_role"):
        RedshiftWarehouse(base, dbapi=object())
    with pytest.raises(ConnectionConfigError, match="invalid IAM role"):
        RedshiftWarehouse(ConnInfo("rs", "redshift", extra={"iam_role": "arn:aws:iam::1:role/x' --"}), dbapi=object())
    wh = RedshiftWarehouse(
        ConnInfo("rs", "redshift", extra={"iam_role": "default", "copy_region": "eu-west-1"}), dbapi=env.dbapi(base)
    )
    part = S3Partition(
        "b-1",
        "2024-03-01",
        "s3://b-1/t/",
        "s3://b-1/t/ds=2024-03-01/",
        "s3://b-1/t/_manifests/ds=2024-03-01.json",
        (),
        0,
        pa.schema([]),
        "r",
    )
    assert wh.copy_sql('"stg"', part) == (
        "COPY \"stg\" FROM 's3://b-1/t/_manifests/ds=2024-03-01.json' IAM_ROLE default FORMAT AS PARQUET MANIFEST REGION 'eu-west-1'"
    )
    wh.close()
    # a Redshift target needs an S3 lake
    p = env.pipeline(Load("full_refresh"))
    with pytest.raises(ConnectionConfigError, match="S3 lake"):
        load(p, IVS[0], ConnInfo("lake", "fs", host=str(tmp_path)), env.wh, dbapi=env.dbapi)


def test_stage_check_publish_as_separate_steps(env):
    """The write-audit-publish split: COPY into the persistent stage, a check query on it
    (through fetch), then publish; a second connection sees the target only after publish."""
    p = env.pipeline(Load("snapshot"))
    env.put(DAY1_ROWS)
    extract(p, IVS[0], env.src, env.lake_conn, aws=env.aws)
    wh = RedshiftWarehouse(env.wh, dbapi=env.dbapi(env.wh))
    try:
        assert stage_from_lake(p, IVS[0], env.lake_conn, wh, aws=env.aws) == 4
        _, _, stage_sql = wh.staging_table("analytics.orders", IVS[0])
        names, rows = wh.fetch(f"SELECT count(*) AS n FROM {stage_sql} WHERE name IS NULL OR name = %s", [""])
        assert (names, rows) == (["n"], [(1,)])
        c = env.pg
        with psycopg.connect(host=c.host, port=c.port, user=c.login, dbname=c.database) as db:
            assert db.execute("SELECT to_regclass('analytics.orders')").fetchone() == (None,)
        res = wh.publish("analytics.orders", p.load, IVS[0])
        assert (res.inserted, res.deleted) == (4, 0)
        assert wh.columns("analytics", "_dagf_stage_orders_20240301") is None  # stage dropped in the transaction
    finally:
        wh.close()
    assert len(env.target(snapshot=True)) == 4
