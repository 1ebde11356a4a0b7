"""A parallel extract whose part is SIGKILLed: the retry of that part alone gives the exact rows.

Each part runs in its own process (as a mapped Airflow task does), reading a real PostgreSQL
source into the lake (a local folder, and S3 on moto). One part's process SIGKILLs itself after a source batch was handed
to the lake writer; the commit then refuses (a part is missing) and the published partition
stays the previous run's; the part is retried alone, committed, loaded into PostgreSQL, and
the target equals the source row for row. A second kill hits a retry of a part that had
already succeeded: its earlier attempt stays whole.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from dag_factory.config.model import Lake, Load, Parallel, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.lake import LocalLake
from dag_factory.engine.runner import commit_parts, load, open_lake, plan_parts
from dag_factory.errors import EngineError
from tests.support.moto_server import moto_aws  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres
DAY = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
ROWS = 30_000

WORKER = """
import json, os, signal, sys
from datetime import datetime
from dag_factory.config.model import Lake, Load, Parallel, Pipeline, SqlSource, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.parallel import PartRange
from dag_factory.engine.runner import extract_part

spec = json.loads(sys.argv[1])
p = Pipeline(
    name="par",
    source=SqlSource(conn_id="src", table="orders", batch_size=1000, parallel=Parallel("id", 3)),
    load=Load("incremental", cursor="updated_at", primary_key=("id",)),
    target=Target("wh", "public.orders"),
    lake=Lake("lake", "par"),
)
seen = {"batches": 0}

def progress(rows):
    seen["batches"] += 1
    if spec["kill_after"] and seen["batches"] >= spec["kill_after"]:
        print("KILL", rows, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

aws = None
if spec.get("moto"):
    import boto3
    from dag_factory.engine.aws import AwsContext
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    aws = lambda conn: AwsContext(session, spec["moto"])
info = extract_part(
    p, Interval(datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"])),
    PartRange.from_json(spec["part"]), ConnInfo(**spec["src"]), ConnInfo(**spec["lake"]), progress, aws=aws,
)
print("ROWS", info.rows, flush=True)
"""


def pipeline() -> Pipeline:
    return Pipeline(
        name="par",
        source=SqlSource(conn_id="src", table="orders", batch_size=1000, parallel=Parallel("id", 3)),
        load=Load("incremental", cursor="updated_at", primary_key=("id",)),
        target=Target("wh", "public.orders"),
        lake=Lake("lake", "par"),
    )


def _part(src: ConnInfo, lake: ConnInfo, moto: str | None, part: dict, kill_after: int = 0) -> subprocess.CompletedProcess:
    spec = {
        "part": part,
        "kill_after": kill_after,
        "lake": {"conn_id": lake.conn_id, "kind": lake.kind, "extra": lake.extra},
        "moto": moto,
        "start": DAY.start.isoformat(),
        "end": DAY.end.isoformat(),
        "src": {k: getattr(src, k) for k in ("conn_id", "kind", "host", "port", "login", "password", "database")},
    }
    return subprocess.run([sys.executable, "-c", WORKER, json.dumps(spec)], capture_output=True, text=True, timeout=300)


def _rows(c: ConnInfo, sql: str) -> list[tuple]:
    with psycopg.connect(host=c.host, port=c.port, user=c.login, password=c.password, dbname=c.database) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("lake_kind", ["fs", "s3"])
def test_sigkilled_part_retried_alone_gives_the_exact_rows(rel_pg_server, tmp_path: Path, lake_kind: str, request) -> None:
    pg_server = rel_pg_server
    moto = aws = None
    if lake_kind == "s3":
        from dag_factory.engine.aws import AwsContext

        server = request.getfixturevalue("moto_aws")
        moto = server.endpoint_url
        aws = lambda conn: AwsContext(server.shared_session(), server.endpoint_url)  # noqa: E731
        lake = ConnInfo("lake", "aws", extra={"bucket": server.new_bucket(), "prefix": "raw"})
    else:
        lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    with pg_server.fresh_database() as src_db, pg_server.fresh_database() as wh_db:
        src, wh = pg_server.conninfo(src_db, "src"), pg_server.conninfo(wh_db, "wh")
        with psycopg.connect(host=src.host, port=src.port, user=src.login, password=src.password, dbname=src_db) as db:
            db.execute("CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), note text, updated_at timestamptz)")
            db.execute(
                "INSERT INTO orders SELECT i, i * 0.01, md5(i::text), '2024-03-01'::timestamptz + i * interval '2 seconds'"
                " FROM generate_series(1, %s::int) AS i",
                (ROWS,),
            )
        plan = [p.to_json() for p in plan_parts(pipeline(), DAY, src, lake, aws=aws)]
        for i in (0, 2):
            assert "ROWS" in _part(src, lake, moto, plan[i]).stdout
        killed = _part(src, lake, moto, plan[1], kill_after=1)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert "KILL" in killed.stdout
        if lake_kind == "fs":  # the killed attempt left no part
            assert not (LocalLake(tmp_path / "lake").parts_dir("par", DAY.partition) / "p0001").exists()
        with pytest.raises(EngineError, match=r"parts \[2\] of 3 were not written"):
            commit_parts(pipeline(), DAY, lake, aws=aws)
        assert not open_lake(lake, aws).has_partition("par", DAY.partition)

        retry = _part(src, lake, moto, plan[1])  # the failed part alone, with its planned range
        assert retry.returncode == 0, retry.stderr[-2000:]
        again = _part(src, lake, moto, plan[2], kill_after=1)  # a retry of a finished part dies: the first attempt stays
        assert again.returncode == -signal.SIGKILL
        assert commit_parts(pipeline(), DAY, lake, aws=aws).rows == ROWS
        load(pipeline(), DAY, lake, wh, aws=aws)
        want = _rows(src, "SELECT id, amount, note, updated_at FROM orders ORDER BY id")
        assert _rows(wh, "SELECT id, amount, note, updated_at FROM public.orders ORDER BY id") == want
        assert len(want) == ROWS
