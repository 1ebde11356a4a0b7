"""Which reader should the PostgreSQL and MySQL sources use (issue 15, items 1 and 2)? Speed and
type fidelity of the candidates that install from PyPI here, side by side.

    benchmarks/setup_peers.sh readers                               # once: .venv-bench-readers
    .venv/bin/python benchmarks/bench_readers.py                    # lineitem SF1 + fidelity, 3 reps
    .venv/bin/python benchmarks/bench_readers.py --sf 0.1 --reps 1 --sources pg

Speed: each reader drains `SELECT * FROM lineitem` (tpchgen-cli) into Arrow record batches in a
whole process (start-up included), interleaved, median of the reps, peak RSS of the process.
`ours-*` are today's sources run through dag_factory in our venv; the others run in
.venv-bench-readers (same pyarrow).

Fidelity: one small table with every type in question; each reader's Arrow type and whether each
value comes back exactly (compared with the server's own text rendering of it).

PostgreSQL candidates:
  copy-csv      the reader before issue 15: COPY (...) TO STDOUT (csv) through psycopg, parsed by pyarrow.csv
  ours-pg       the source as it is now (dag_factory.engine.sources.postgres: ADBC + exact casts + read-ahead)
  adbc          adbc-driver-postgresql alone: COPY (...) TO STDOUT (binary) parsed to Arrow in C++
  connectorx    connectorx 0.4.6, return_type="arrow_stream"
MySQL/MariaDB candidates:
  pymysql       PyMySQL SSCursor, rows -> pa.array per column (the reader before issue 15 was this)
  ours-mysql    the source as it is now (connectorx when exact, else PyMySQL)
  mysqlclient   mysqlclient (libmariadb) SSCursor, the same conversion
  connectorx    connectorx 0.4.6 alone, return_type="arrow_stream"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from _readers_child import norm  # noqa: E402

PG_FIDELITY = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE fidelity (
    id int, n_12_2 numeric(12,2), n_40_5 numeric(40,5), n_free numeric, n_free_int numeric,
    ts timestamp, tstz timestamptz, d date, t time, u uuid, j json, jb jsonb, iv interval,
    ai int[], at text[], e mood, b bytea, s text, f4 real, f8 double precision, bo boolean, c char(3));
INSERT INTO fidelity VALUES
 (1, 1234567890.12, 12345678901234567890123456789012345.12345, 123456789012345678901234567890.123456789012345,
  12345678901234567890, '2024-03-01 12:34:56.123456', '2024-03-01 12:34:56.123456+02', '2024-02-29', '23:59:59.999999',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5]}', '{"b": {"c": null}}', '1 year 2 mons 3 days 04:05:06.789',
  '{1,2,NULL}', '{"x","y z"}', 'happy', '\\x00ff', '', 1.5, 0.1, true, 'ab'),
 (2, -0.01, -0.00001, 0.000000000000000000001, -1, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00', '0001-01-01', '00:00:00',
  '00000000-0000-0000-0000-000000000000', 'null', '[]', '-1 days', '{}', '{}', 'sad', '\\x', NULL, 'Infinity', -0.0, false, NULL),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'x', NULL, NULL, NULL, 'abc');
"""

MY_FIDELITY = [
    """CREATE TABLE fidelity (
        id int, d_12_2 decimal(12,2), d_65_30 decimal(65,30), d_38_0 decimal(38,0), bi bigint, ubi bigint unsigned,
        ui int unsigned, uti tinyint unsigned, ti tinyint, dt datetime(6), ts timestamp(6) NULL, d date, t time(6),
        s varchar(20), tx text, j json, e enum('sad','ok','happy'), bt bit(10), bl blob, f float, db double, y year)""",
    """INSERT INTO fidelity VALUES
     (1, 1234567890.12, 12345678901234567890123456789012345.123456789012345678901234567890, 12345678901234567890123456789012345678,
      -9223372036854775808, 18446744073709551615, 4294967295, 255, -128, '2024-03-01 12:34:56.123456',
      '2024-03-01 12:34:56.123456', '2024-02-29', '23:59:59.999999', '', '', '{"a": [1, 2.5]}', 'happy', b'1111111111',
      x'00ff', 1.5, 0.1, 2024),
     (2, -0.01, -0.000000000000000000000000000001, -1, 9223372036854775807, 0, 0, 0, 127, '1000-01-01 00:00:00',
      '1970-01-01 00:00:01', '1000-01-01', '00:00:00', 'x', 'y', 'null', 'sad', b'0', x'', -0.0, 1e308, 1901),
     (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
]


# ----------------------------------------------------------------- parent side


def main() -> None:
    import shutil
    import subprocess
    import tempfile

    from _common import OURS_PY, REPO, measure, median, print_machine, spread, table

    sys.path.insert(0, str(REPO))
    from bench_extract import fill_mysql, fill_pg

    from tests.support.mariadb import mariadb_server
    from tests.support.postgres import postgres_server

    readers_py = REPO / ".venv-bench-readers" / "bin" / "python"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default="pg,mysql")
    ap.add_argument("--sf", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--table", default="lineitem", help="lineitem or orders")
    a = ap.parse_args()
    if not readers_py.exists():
        raise SystemExit("run benchmarks/setup_peers.sh readers first")
    print_machine()
    csvdir = Path(tempfile.mkdtemp(prefix="dagf-tpch-"))
    me = str(BENCH / "_readers_child.py")
    try:
        for source in a.sources.split(","):
            pg = source == "pg"
            readers = (
                ["copy-csv", "ours-pg", "adbc", "connectorx"] if pg else ["pymysql", "ours-mysql", "mysqlclient", "connectorx"]
            )
            with postgres_server() if pg else mariadb_server() as server, server.fresh_database() as db:
                s = {"kind": "postgres" if pg else "mysql", "host": server.host, "port": server.port, "user": server.user}
                s.update({"password": server.password, "db": db})
                counts = (fill_pg if pg else fill_mysql)(server, db, [a.table], a.sf, csvdir)
                if pg:
                    with server.connect(db, autocommit=True) as conn:
                        conn.execute(PG_FIDELITY)
                        expected = _pg_expected(conn)
                else:
                    with server.connect(db) as conn, conn.cursor() as cur:
                        for stmt in MY_FIDELITY:
                            cur.execute(stmt)
                        expected = None

                def run(reader: str, tbl: str, s: dict = s) -> dict:
                    py = OURS_PY if reader.startswith("ours-") or reader == "copy-csv" else readers_py
                    return measure([str(py), me, reader, json.dumps(s), tbl], cwd=REPO)

                res: dict[str, list[dict]] = {r: [] for r in readers}
                for _ in range(a.reps):
                    for r in readers:
                        res[r].append(run(r, a.table))
                name = "PostgreSQL" if pg else "MariaDB"
                rows = counts[a.table]
                print(f"\n### {name}: SELECT * FROM {a.table} ({rows:,} rows) into Arrow batches\n")
                base = median([x["wall_s"] for x in res[readers[0]]])
                out = []
                for r, rs in res.items():
                    w = median([x["wall_s"] for x in rs])
                    out.append(
                        [
                            r,
                            f"{w:.2f}",
                            spread([x["wall_s"] for x in rs]),
                            f"{median([x['read_s'] for x in rs]):.2f}",
                            f"{rows / median([x['read_s'] for x in rs]):,.0f}",
                            f"{median([x['peak_mb'] for x in rs]):,.0f}",
                            f"{w / base:.2f}",
                            "ok" if all(x["rows"] == rows for x in rs) else f"rows {rs[0]['rows']}!",
                        ]
                    )
                print(
                    table(
                        ["reader", "process s", "min-max", "read s", "rows/s (read)", "peak RSS MB", f"x {readers[0]}", ""], out
                    )
                )
                fid = {}
                for r in readers:
                    try:
                        fid[r] = run(r, "fidelity")["columns"]
                    except RuntimeError as e:
                        fid[r] = {"error": str(e).strip().splitlines()[-1][:120]}
                print(f"\n### {name}: type fidelity (Arrow type; values vs the reference)\n")
                ref = expected if expected is not None else fid[readers[0]]
                cols = list(ref) if expected is not None else list(fid[readers[0]])
                rows_out = []
                for c in cols:
                    line = [c]
                    for r in readers:
                        got = fid[r]
                        if "error" in got:
                            line.append(f"error: {got['error'][:60]}")
                            continue
                        g = got.get(c)
                        if g is None:
                            line.append("missing")
                            continue
                        verdict = ""
                        if expected is not None:
                            verdict = " exact" if _same(g["values"], ref[c]) else f" DIFFERS {g['values']}"
                        else:
                            verdict = f" {g['values']}"
                        line.append(f"{g['type']}{verdict}")
                    rows_out.append(line)
                print(table(["column", *readers], rows_out))
    finally:
        shutil.rmtree(csvdir, ignore_errors=True)
    del subprocess


def _pg_expected(conn) -> dict:
    """The server's text rendering of each fidelity value, normalised like the readers' values."""
    cur = conn.execute("SELECT * FROM fidelity ORDER BY id")
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    return {n: [norm(r[i]) for r in rows] for i, n in enumerate(names)}


def _same(got: list, want: list) -> bool:
    return json.dumps(got, sort_keys=True, default=str) == json.dumps(want, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
