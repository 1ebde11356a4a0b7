"""One extraction contender, in a fresh process (run by bench_extract.py, which times the whole
process and samples its peak RSS). CFG is a JSON object: src {kind postgres|mysql, host, port,
user, password, db}, table, work (a private folder), backend (dlt), col (the decimal column).

    python _extract_child.py ours-extract CFG   dag_factory.engine.runner.extract into a local lake
    python _extract_child.py dlt CFG            (.venv-peer-dlt) dlt sql_table(backend=...) -> DuckDB, replace
    python _extract_child.py pandas CFG         (.venv-peer) SqlToS3Operator's path: read_sql + to_parquet
    python _extract_child.py inspect CFG        the result's row count and the type of CFG.col
                                                (work/warehouse.duckdb, dlt's or ours, else the lake's Parquet)

Every contender reads the whole table. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def pg_url(s: dict, driver: str = "postgresql") -> str:
    pw = f":{s['password']}" if s.get("password") else ""
    return f"{driver}://{s['user']}{pw}@{s['host']}:{s['port']}/{s['db']}"


def mysql_url(s: dict, driver: str = "mysql") -> str:
    return f"{driver}://{s['user']}:{s['password']}@{s['host']}:{s['port']}/{s['db']}"


def ours_extract(cfg: dict) -> dict:
    t0 = time.perf_counter()
    from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
    from dag_factory.config.schedules import Interval
    from dag_factory.engine import runner
    from dag_factory.engine.connections import ConnInfo

    s, work = cfg["src"], Path(cfg["work"])
    p = Pipeline(
        name="bench",
        source=SqlSource(conn_id="src", table=cfg["table"]),
        load=Load(mode="full_refresh"),
        lake=Lake(conn_id="lake", path="raw/bench"),
        target=Target(conn_id="wh", table="analytics.bench"),
    )
    kind = "postgres" if s["kind"] == "postgres" else "mysql"
    src = ConnInfo(
        "src",
        kind,
        host=s["host"],
        port=s["port"],
        login=s["user"],
        password=s.get("password"),
        database=s["db"],
        extra=s.get("extra") or {},
    )
    lake = ConnInfo("lake", "fs", host=str(work / "lake"))
    from datetime import UTC, datetime

    interval = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "UTC")
    t1 = time.perf_counter()
    er = runner.extract(p, interval, src, lake)
    return {"rows": er.rows, "import_s": t1 - t0, "extract_s": time.perf_counter() - t1}


def dlt_run(cfg: dict) -> dict:
    import os

    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.sql_database import sql_table

    s, work = cfg["src"], Path(cfg["work"])
    if s["kind"] == "postgres":
        url, cx = pg_url(s, "postgresql+psycopg2"), pg_url(s)
    else:
        url, cx = mysql_url(s, "mysql+pymysql"), mysql_url(s)
    kwargs: dict = {}
    if cfg["backend"] == "connectorx":
        kwargs["backend_kwargs"] = {"conn": cx}
    table = sql_table(credentials=url, table=cfg["table"], backend=cfg["backend"], **kwargs)
    pipe = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=str(work / "dlt"),
        destination=dlt.destinations.duckdb(str(work / "warehouse.duckdb")),
        dataset_name="bench",
        progress=None,
    )
    info = pipe.run(table, write_disposition="replace")
    info.raise_on_failed_jobs()
    return {"rows": pipe.last_trace.last_normalize_info.row_counts.get(cfg["table"], -1)}


def pandas_path(cfg: dict) -> dict:
    import io
    import warnings
    from contextlib import closing

    import airflow.sdk  # noqa: F401  (a worker's task process has it loaded)
    from airflow.providers.amazon.aws.transfers.sql_to_s3 import FILE_FORMAT, SqlToS3Operator
    from pandas.io import sql as psql

    warnings.simplefilter("ignore")  # pandas warns that a DB-API connection is not SQLAlchemy
    s, work = cfg["src"], Path(cfg["work"])
    if s["kind"] == "postgres":
        import psycopg

        conn = psycopg.connect(host=s["host"], port=s["port"], user=s["user"], dbname=s["db"], password=s.get("password"))
        sql = f'SELECT * FROM "{cfg["table"]}"'
    else:
        import pymysql

        conn = pymysql.connect(host=s["host"], port=s["port"], user=s["user"], password=s["password"], database=s["db"])
        sql = f"SELECT * FROM `{cfg['table']}`"
    with closing(conn):
        df = psql.read_sql(sql, con=conn)  # common-sql DbApiHook._get_pandas_df
    SqlToS3Operator._fix_dtypes(df, FILE_FORMAT.PARQUET)
    buf = io.BytesIO()
    df.to_parquet(buf)
    out = work / "lake" / "raw" / "bench" / "ds=2024-03-01"
    out.mkdir(parents=True, exist_ok=True)
    (out / "part-00000.parquet").write_bytes(buf.getbuffer())
    return {"rows": len(df)}


def inspect(cfg: dict) -> dict:
    work, col = Path(cfg["work"]), cfg["col"]
    db = work / "warehouse.duckdb"
    if db.exists():
        import duckdb

        with duckdb.connect(str(db), read_only=True) as con:
            found = con.execute(
                "SELECT table_schema, table_name, data_type FROM information_schema.columns "
                "WHERE column_name = ? AND table_schema NOT LIKE '%staging%' AND table_name NOT LIKE '\\_%' ESCAPE '\\'",
                [col],
            ).fetchall()
            if not found:
                return {"type": "?", "rows": -1}
            schema, name, typ = found[0]
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
        return {"type": typ, "rows": rows}
    import pyarrow.parquet as pq

    files = sorted((work / "lake").rglob("*.parquet"))
    if not files:
        return {"type": "?", "rows": -1}
    schema = pq.read_schema(files[0])
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"type": str(schema.field(col).type), "rows": rows}


def main() -> None:
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    fn = {"ours-extract": ours_extract, "dlt": dlt_run, "pandas": pandas_path, "inspect": inspect}[mode]
    print(json.dumps({"mode": mode, **fn(cfg)}))


if __name__ == "__main__":
    main()
