"""One reader of benchmarks/bench_readers.py in a fresh process: drains SELECT * FROM TABLE into
Arrow record batches and prints one JSON line (rows, read seconds, peak RSS), or for the table
`fidelity` every column's Arrow type and values as text.

    python _readers_child.py READER SRC_JSON TABLE

READER is one of copy-csv, ours-pg, adbc, connectorx (PostgreSQL) or pymysql, ours-mysql,
mysqlclient, connectorx (MySQL/MariaDB); see bench_readers.py.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal


def _pg_url(s: dict) -> str:
    pw = f":{s['password']}" if s.get("password") else ""
    return f"postgresql://{s['user']}{pw}@{s['host']}:{s['port']}/{s['db']}"


def _my_url(s: dict) -> str:
    return f"mysql://{s['user']}:{s['password']}@{s['host']}:{s['port']}/{s['db']}"


def read_batches(reader: str, s: dict, table: str):
    """(schema, iterator of record batches) of SELECT * FROM table with this reader."""
    import pyarrow as pa

    if reader == "copy-csv":
        return _copy_csv(s, table)
    if reader == "ours-pg" or reader == "ours-mysql":
        from datetime import UTC, datetime

        from dag_factory.config.model import Load, SqlSource
        from dag_factory.config.schedules import Interval
        from dag_factory.engine.connections import ConnInfo
        from dag_factory.engine.sources import open_source

        kind = "postgres" if reader == "ours-pg" else "mysql"
        conn = ConnInfo(
            "src", kind, host=s["host"], port=s["port"], login=s["user"], password=s.get("password"), database=s["db"]
        )
        src = open_source(conn)
        iv = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "UTC")
        from dag_factory.engine.normalize import normalize

        source, load = SqlSource(conn_id="src", table=table), Load(mode="full_refresh")
        return normalize(src.read(source, load, iv), source, load, iv)
    if reader == "adbc":
        import adbc_driver_postgresql.dbapi as adbc

        con = adbc.connect(_pg_url(s))
        cur = con.cursor()
        cur.execute(f"SELECT * FROM {table}")
        rbr = cur.fetch_record_batch()

        def keep():  # the cursor and connection must outlive the reader
            yield from rbr
            cur.close()
            con.close()

        return rbr.schema, keep()
    if reader == "connectorx":
        import connectorx as cx

        url = _pg_url(s) + "?cxprotocol=binary" if s["kind"] == "postgres" else _my_url(s)
        rbr = cx.read_sql(url, f"SELECT * FROM {table}", return_type="arrow_stream", batch_size=65536)
        return rbr.schema, iter(rbr)
    if reader in ("mysqlclient", "pymysql"):
        if reader == "mysqlclient":
            import MySQLdb
            from MySQLdb.cursors import SSCursor

            db = MySQLdb.connect(host=s["host"], port=s["port"], user=s["user"], password=s["password"], database=s["db"])
            db.query("SET time_zone = '+00:00'")
        else:
            import pymysql
            from pymysql.cursors import SSCursor

            db = pymysql.connect(host=s["host"], port=s["port"], user=s["user"], password=s["password"], database=s["db"])
            db.cursor().execute("SET time_zone = '+00:00'")
        cur = db.cursor(SSCursor)
        cur.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cur.description]

        def gen():
            while rows := cur.fetchmany(65536):
                cols = list(zip(*rows, strict=True))
                yield pa.RecordBatch.from_arrays([_untyped(c) for c in cols], names=names)

        return None, gen()
    raise ValueError(reader)


def _untyped(values):
    """pa.array of a column without declared types (BIGINT UNSIGNED overflows int64: then the
    driver's values as text, so the fidelity table still shows them)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values])


def _copy_csv(s: dict, table: str):
    """The PostgreSQL reader before issue 15 (for comparison): COPY csv through psycopg, parsed
    by pyarrow.csv with the column types of a LIMIT 0 run (types as dag_factory decides them)."""
    import io

    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from dag_factory.engine.normalize.types import postgres_type as arrow_type

    pg = psycopg.connect(host=s["host"], port=s["port"], user=s["user"], dbname=s["db"], password=s.get("password"))
    cur = pg.execute(f"SELECT * FROM {table} LIMIT 0")
    schema = pa.schema([pa.field(d.name, arrow_type(d.type_code, d.precision, d.scale)) for d in cur.description])
    sel = ", ".join(f'"{d.name}"::text' if d.type_code == 1042 else f'"{d.name}"' for d in cur.description)

    class CopyReader(io.RawIOBase):
        def __init__(self, copy) -> None:
            self._copy, self._buf = copy, memoryview(b"")

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            view = memoryview(b).cast("B")
            size, filled = len(view), 0
            while filled < size:
                if not self._buf:
                    chunk = self._copy.read()
                    if not chunk:
                        break
                    self._buf = memoryview(bytes(chunk))
                n = min(size - filled, len(self._buf))
                view[filled : filled + n] = self._buf[:n]
                self._buf = self._buf[n:]
                filled += n
            return filled

    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
        true_values=["t"],
        false_values=["f"],
    )

    def gen():
        with pg.cursor().copy(f"COPY (SELECT {sel} FROM {table}) TO STDOUT WITH (FORMAT csv)") as copy:
            stream = io.BufferedReader(CopyReader(copy), buffer_size=1 << 20)
            yield from pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=schema.names, block_size=1 << 20),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=convert,
            )

    return schema, gen()


def child(reader: str, s: dict, table: str) -> dict:
    import resource

    t0 = time.perf_counter()
    schema, batches = read_batches(reader, s, table)
    rows = 0
    last = None
    for b in batches:
        rows += b.num_rows
        last = b
    if table != "fidelity":
        return {
            "rows": rows,
            "read_s": time.perf_counter() - t0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    # fidelity: all rows, types and values as text for the parent to compare
    import pyarrow as pa

    schema, batches = read_batches(reader, s, table)
    tbl = pa.Table.from_batches(list(batches), schema=schema) if schema is not None else pa.Table.from_batches(list(batches))
    del last
    out = {}
    for name in tbl.column_names:
        col = tbl.column(name)
        out[name] = {"type": str(col.type), "values": [norm(v) for v in col.to_pylist()]}
    return {"rows": tbl.num_rows, "columns": out}


def norm(v):
    """A JSON-able rendering of one value that keeps what exactness is about."""
    from datetime import date, datetime, timedelta
    from datetime import time as dtime

    if v is None:
        return None
    if isinstance(v, Decimal):
        return f"D:{v:f}" if v == v else "D:NaN"
    if isinstance(v, float):
        return f"F:{v!r}"
    if isinstance(v, (datetime, date, dtime)):
        return f"T:{v.isoformat()}"
    if isinstance(v, timedelta):
        return f"I:{v}"
    if isinstance(v, (bytes, bytearray)):
        return f"B:{bytes(v).hex()}"
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v if isinstance(v, (int, str, bool)) else repr(v)


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3])))
