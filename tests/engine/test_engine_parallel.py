"""source.parallel: a PostgreSQL table read in parts gives the same warehouse as one extract.

For every load mode, two pipelines read the same PostgreSQL source over three days (the
source changing between days) into the same PostgreSQL warehouse: one with a single extract,
one in parts (plan, parts, commit, as the Airflow tasks do, and through runner.extract's
in-process pool). After each day both targets hold exactly the same rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dag_factory.config.model import Lake, Load, Parallel, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import LocalLake
from dag_factory.engine.parallel import PartRange, interval_ranges, ranges
from dag_factory.engine.runner import commit_parts, extract, extract_part, load, plan_parts
from dag_factory.errors import EngineError
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)


def day(n: int) -> Interval:
    return Interval(DAY1 + timedelta(days=n - 1), DAY1 + timedelta(days=n))


def fill(src: ConnInfo, n: int) -> None:
    """Source state on day n: rows spread over the days, NULL `grp` values, updates of old rows."""
    with psycopg.connect(host=src.host, port=src.port, user=src.login, password=src.password, dbname=src.database) as c:
        if n == 1:
            c.execute(
                "CREATE TABLE orders (id bigint PRIMARY KEY, grp int, amount numeric(12,2), note text, updated_at timestamptz)"
            )
        base = (n - 1) * 400
        c.execute(
            "INSERT INTO orders SELECT i, CASE WHEN i %% 7 = 0 THEN NULL ELSE i %% 50 END, i * 1.25, 'n' || i,"
            " %s + (i %% 400) * interval '3 minutes' FROM generate_series(%s::bigint, %s::bigint) AS i",
            (DAY1 + timedelta(days=n - 1), base + 1, base + 400),
        )
        if n > 1:  # yesterday's rows change today (moved into today's interval)
            c.execute(
                "UPDATE orders SET amount = amount + 1, updated_at = %s + (id %% 60) * interval '1 minute' WHERE id %% 5 = 0 AND id <= %s::bigint",
                (DAY1 + timedelta(days=n - 1), base),
            )


def pipeline(name: str, load_: Load, src: ConnInfo, parallel: Parallel | None) -> Pipeline:
    return Pipeline(
        name=name,
        source=SqlSource(conn_id=src.conn_id, table="orders", parallel=parallel),
        load=load_,
        target=Target("wh", f"public.{name}"),
        lake=Lake("lake", name),
    )


LOADS = {
    "incremental": Load("incremental", cursor="updated_at"),
    "incremental_key": Load("incremental", cursor="updated_at", primary_key=("id",)),
    "snapshot": Load("snapshot"),
    "full_refresh": Load("full_refresh"),
    "history": Load("history", primary_key=("id",)),
}


def rows(wh: ConnInfo, table: str) -> list[tuple]:
    with psycopg.connect(host=wh.host, port=wh.port, user=wh.login, password=wh.password, dbname=wh.database) as c:
        return sorted(c.execute(f"SELECT * FROM public.{table}").fetchall(), key=repr)


@pytest.mark.parametrize("mode", list(LOADS))
@pytest.mark.parametrize("column", ["id", "updated_at", "grp"])
def test_parallel_equals_single_extract(pg_server, tmp_path: Path, mode: str, column: str) -> None:
    if column == "updated_at" and mode != "incremental":
        pytest.skip("the cursor column case is an incremental one")
    with pg_server.fresh_database() as src_db, pg_server.fresh_database() as wh_db:
        src = pg_server.conninfo(src_db, "src")
        wh = pg_server.conninfo(wh_db, "wh")
        lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
        single = pipeline("single", LOADS[mode], src, None)
        par = pipeline("par", LOADS[mode], src, Parallel(column, 4))
        for n in (1, 2, 3):
            fill(src, n)
            assert extract(single, day(n), src, lake).rows > 0
            load(single, day(n), lake, wh)
            if n == 2:  # as Airflow runs it: plan, the parts (in any order), commit
                plan = plan_parts(par, day(n), src, lake)
                assert [p.index for p in plan] == [0, 1, 2, 3]
                for part in reversed(plan):
                    extract_part(par, day(n), PartRange.from_json(part.to_json()), src, lake)
                got = commit_parts(par, day(n), lake)
            else:  # dag-factory run: the parts in a pool
                got = extract(par, day(n), src, lake)
            assert got.files >= 4
            load(par, day(n), lake, wh)
            assert rows(wh, "par") == rows(wh, "single"), f"day {n}"
        assert len(rows(wh, "par")) > 400


def test_rerun_replaces_the_whole_partition_and_commit_needs_every_part(pg_server, tmp_path: Path) -> None:
    with pg_server.fresh_database() as src_db:
        src = pg_server.conninfo(src_db, "src")
        lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
        fill(src, 1)
        par = pipeline("par", Load("snapshot"), src, Parallel("id", 3))
        first = extract(par, day(1), src, lake)
        assert first.rows == 400
        plan = plan_parts(par, day(1), src, lake)
        extract_part(par, day(1), plan[0], src, lake)
        extract_part(par, day(1), plan[2], src, lake)
        with pytest.raises(EngineError, match=r"parts \[2\] of 3 were not written"):
            commit_parts(par, day(1), lake)
        # the published partition is still the first run's, whole
        assert LocalLake(tmp_path / "lake").local_partition("par", day(1).partition).rows == 400
        extract_part(par, day(1), plan[1], src, lake)
        extract_part(par, day(1), plan[1], src, lake)  # a retried part replaces its own files
        assert commit_parts(par, day(1), lake).rows == 400
        assert not LocalLake(tmp_path / "lake").parts_dir("par", day(1).partition).exists()


def test_ranges_cover_everything() -> None:
    parts = ranges("id", 4, 1, 10)
    assert [(p.lo, p.hi, p.nulls) for p in parts] == [(None, 4, True), (4, 6, False), (6, 9, False), (9, None, False)]
    empty = ranges("id", 3, None, None)
    assert [(p.empty, p.nulls) for p in empty] == [(False, True), (True, False), (True, False)]
    tiny = ranges("id", 4, 5, 5)  # fewer values than parts: some parts are empty ranges
    assert tiny[0].hi == 6 and tiny[-1].lo == 6
    by_time = interval_ranges("updated_at", 4, day(1))
    assert by_time[1].lo == DAY1 + timedelta(hours=6) and by_time[0].lo is None and by_time[3].hi is None
    for p in [*parts, *empty, *by_time]:
        assert PartRange.from_json(p.to_json()) == p
    with pytest.raises(EngineError, match="integer, date or timestamp"):
        ranges("note", 2, "a", "z")


def test_sqlite_source_parts(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "src.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (id INTEGER, v TEXT, ts TIMESTAMP)")
        c.executemany(
            "INSERT INTO t VALUES (?, ?, ?)", [(i if i % 9 else None, f"v{i}", f"2024-03-01 0{i % 10}:00:00") for i in range(100)]
        )
    src = ConnInfo("src", "sqlite", host=str(db))
    lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    for column, load_ in (("id", Load("snapshot")), ("ts", Load("incremental", cursor="ts"))):
        p = pipeline("p", load_, src, Parallel(column, 3))
        p = replace(p, source=replace(p.source, table="t"), lake=Lake("lake", f"p_{column}"))
        assert extract(p, day(1), src, lake).rows == 100


def test_s3_lake_parts_publish_once(pg_server, moto_aws) -> None:  # noqa: F811
    """On the S3 lake: parts are invisible until the commit's manifest PUT; a re-run replaces all."""
    from dag_factory.engine.aws import AwsContext
    from dag_factory.engine.runner import open_lake

    aws = lambda conn: AwsContext(moto_aws.shared_session(), moto_aws.endpoint_url)  # noqa: E731
    bucket = moto_aws.new_bucket()
    lake = ConnInfo("lake", "aws", extra={"bucket": bucket, "prefix": "raw"})
    with pg_server.fresh_database() as src_db, pg_server.fresh_database() as wh_db:
        src, wh = pg_server.conninfo(src_db, "src"), pg_server.conninfo(wh_db, "wh")
        single = pipeline("single", LOADS["incremental_key"], src, None)
        par = pipeline("par", LOADS["incremental_key"], src, Parallel("id", 3))
        for n in (1, 2):
            fill(src, n)
            extract(single, day(n), src, lake, aws=aws)
            load(single, day(n), lake, wh, aws=aws)
            plan = plan_parts(par, day(n), src, lake, aws=aws)
            for part in plan:
                extract_part(par, day(n), part, src, lake, aws=aws)
                extract_part(par, day(n), part, src, lake, aws=aws)  # a retry replaces the attempt
            if n == 1:
                assert not open_lake(lake, aws).has_partition("par", day(n).partition)
            info = commit_parts(par, day(n), lake, aws=aws)
            assert info.files == 3
            load(par, day(n), lake, wh, aws=aws)
            assert rows(wh, "par") == rows(wh, "single")
        keys = [o["Key"] for o in moto_aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="raw/par/").get("Contents", ())]
        assert not [k for k in keys if "/_parts/" in k]
        assert len([k for k in keys if "/ds=2024-03-02/" in k]) == 3


def test_mariadb_source_parts_equal_one_extract(maria, tmp_path: Path) -> None:
    """The MySQL reader's part filter (UTC wall-clock datetimes, as its interval filter)."""
    lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    with maria.fresh_database() as db:
        with maria.connect(db) as c, c.cursor() as cur:
            cur.execute("CREATE TABLE orders (id bigint PRIMARY KEY, grp int NULL, note varchar(20), updated_at datetime(6))")
            cur.executemany(
                "INSERT INTO orders VALUES (%s, %s, %s, %s)",
                [
                    (i, None if i % 7 == 0 else i % 9, f"n{i}", datetime(2024, 3, 1) + timedelta(seconds=i * 40))
                    for i in range(1, 2001)
                ],
            )
            c.commit()
        src = maria.conninfo(db, "src")
        for column, load_ in (("id", Load("snapshot")), ("grp", Load("full_refresh")), ("updated_at", LOADS["incremental"])):
            single = pipeline(f"single_{column}", load_, src, None)
            par = pipeline(f"par_{column}", load_, src, Parallel(column, 3))
            one = extract(single, day(1), src, lake)
            parts = extract(par, day(1), src, lake)
            local = LocalLake(tmp_path / "lake")
            got = local.read_partition(par.lake.path, day(1).partition).read_all().sort_by("id")
            want = local.read_partition(single.lake.path, day(1).partition).read_all().sort_by("id")
            assert parts.rows == one.rows > 0 and got.equals(want), column
