"""One extraction, in a fresh process (run by bench_extract.py).

    python _extract_child.py ours   PG_JSON TABLE WORK_DIR
    python _extract_child.py pandas PG_JSON TABLE WORK_DIR      (peer venv: pandas + providers-amazon)
    python _extract_child.py copy   PG_JSON TABLE WORK_DIR      (psql COPY ... TO STDOUT > /dev/null)

Every mode reads the same selection: SELECT * FROM TABLE WHERE updated_at in [2024-03-01, 2024-03-02)
(our incremental pipeline's query for that day; the bench table has every row in that day).

ours:   dag_factory.engine.runner.extract (PostgreSQL COPY -> Arrow -> Parquet partition in a local
        lake), then runner.load of that partition into a DuckDB file (incremental, primary key).
pandas: what providers-amazon's SqlToS3Operator does with a SQL hook: get_df = pandas read_sql of
        the whole result over a DB-API connection (psycopg here), the operator's own _fix_dtypes,
        df.to_parquet into an in-memory buffer, and the buffer written out (to the lake folder
        instead of S3).
copy:   PostgreSQL's own client, psql, COPY (...) TO STDOUT (csv) into /dev/null: the floor.

The Python modes import airflow.sdk first, as a worker's task process has it; "baseline" is the
RSS after all imports. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

START, END = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(pg: dict, table: str, work: Path) -> dict:
    import airflow.sdk  # noqa: F401

    from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
    from dag_factory.config.schedules import Interval
    from dag_factory.engine import runner
    from dag_factory.engine.connections import ConnInfo

    p = Pipeline(
        name="bench",
        source=SqlSource(conn_id="pg", table=table),
        load=Load(mode="incremental", cursor="updated_at", primary_key=("id",)),
        lake=Lake(conn_id="lake", path="raw/bench"),
        target=Target(conn_id="wh", table="analytics.bench"),
    )
    src = ConnInfo(conn_id="pg", kind="postgres", host=pg["host"], port=pg["port"], login=pg["user"], database=pg["db"])
    lake = ConnInfo(conn_id="lake", kind="fs", host=str(work / "lake"))
    wh = ConnInfo(conn_id="wh", kind="duckdb", host=str(work / "warehouse.duckdb"))
    interval = Interval(START, END, "UTC")
    base = rss_mb()
    t0 = time.perf_counter()
    er = runner.extract(p, interval, src, lake)
    t1 = time.perf_counter()
    peak_extract = peak_mb()
    lr = runner.load(p, interval, lake, wh)
    t2 = time.perf_counter()
    return {
        "rows": er.rows,
        "files": er.files,
        "loaded": lr.inserted,
        "extract_s": t1 - t0,
        "total_s": t2 - t0,
        "baseline_mb": base,
        "peak_extract_mb": peak_extract,
        "peak_total_mb": peak_mb(),
        "parquet_mb": sum(f.stat().st_size for f in (work / "lake").rglob("*.parquet")) / 2**20,
    }


def pandas_path(pg: dict, table: str, work: Path) -> dict:
    import io
    import warnings
    from contextlib import closing

    import airflow.sdk  # noqa: F401
    import psycopg
    from airflow.providers.amazon.aws.transfers.sql_to_s3 import FILE_FORMAT, SqlToS3Operator
    from pandas.io import sql as psql

    warnings.simplefilter("ignore")  # pandas warns that a DB-API connection is not SQLAlchemy
    sql = f'SELECT * FROM "{table}" WHERE "updated_at" >= %s AND "updated_at" < %s'
    base = rss_mb()
    t0 = time.perf_counter()
    with closing(psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname=pg["db"])) as conn:
        df = psql.read_sql(sql, con=conn, params=[START, END])  # common-sql DbApiHook._get_pandas_df
    t_df = time.perf_counter()
    SqlToS3Operator._fix_dtypes(df, FILE_FORMAT.PARQUET)
    buf = io.BytesIO()
    df.to_parquet(buf)
    out = work / "lake" / "raw" / "bench" / "ds=2024-03-01"
    out.mkdir(parents=True, exist_ok=True)
    (out / "part-0.parquet").write_bytes(buf.getbuffer())
    t1 = time.perf_counter()
    return {
        "rows": len(df),
        "extract_s": t1 - t0,
        "get_df_s": t_df - t0,
        "baseline_mb": base,
        "peak_extract_mb": peak_mb(),
        "parquet_mb": (out / "part-0.parquet").stat().st_size / 2**20,
    }


def copy_floor(pg: dict, table: str, work: Path) -> dict:
    sql = (
        f'COPY (SELECT * FROM "{table}" WHERE "updated_at" >= \'{START.isoformat()}\' AND "updated_at" < \'{END.isoformat()}\') '
        "TO STDOUT WITH (FORMAT csv, HEADER false)"
    )
    cmd = ["psql", "-X", "-q", "-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"], "-d", pg["db"], "-c", sql]
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(cmd, stdout=null, check=True)
    t1 = time.perf_counter()
    with subprocess.Popen(
        [
            "psql",
            "-X",
            "-qtA",
            "-h",
            pg["host"],
            "-p",
            str(pg["port"]),
            "-U",
            pg["user"],
            "-d",
            pg["db"],
            "-c",
            f'SELECT count(*) FROM "{table}" WHERE "updated_at" >= \'{START.isoformat()}\' AND "updated_at" < \'{END.isoformat()}\'',
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as p:
        rows = int(p.stdout.read().strip())
    return {
        "rows": rows,
        "extract_s": t1 - t0,
        "baseline_mb": 0.0,
        "peak_extract_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main() -> None:
    mode, pg, table, work = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    fn = {"ours": ours, "pandas": pandas_path, "copy": copy_floor}[mode]
    print(json.dumps({"mode": mode, **fn(pg, table, work)}))


if __name__ == "__main__":
    main()
