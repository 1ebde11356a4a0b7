"""Extraction from a real PostgreSQL table to Parquet (and on into DuckDB): ours against the
pandas path of providers-amazon's SqlToS3Operator and PostgreSQL's own COPY as the floor.

    .venv/bin/python benchmarks/bench_extract.py                       # 1M and 5M rows, 1 repeat
    .venv/bin/python benchmarks/bench_extract.py --rows 1000000 --reps 3
    .venv/bin/python benchmarks/bench_extract.py --quick               # 100k and 500k rows (~1 min)

Starts a throwaway PostgreSQL with tests/support/postgres.py (or uses DAG_FACTORY_TEST_PG_DSN),
fills a 12-column table (int, bigint, numeric(12,2), text, varchar, date, timestamp, timestamptz,
bool, float8, uuid, nullable text) with generate_series, and runs each contender in its own
process (see _extract_child.py), interleaved. Needs benchmarks/setup_peer.sh (pandas lives in
.venv-peer, never in our venv) and `psql` on PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from _common import BENCH, OURS_PY, PEER_PY, REPO, median, need_peer, print_machine, run_child, table, tmpdir

sys.path.insert(0, str(REPO))
from tests.support.postgres import postgres_server  # noqa: E402

CHILD = str(BENCH / "_extract_child.py")

FILL = """
CREATE TABLE {name} (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    amount numeric(12,2),
    status text,
    sku varchar(32),
    order_date date,
    created_at timestamp,
    updated_at timestamptz NOT NULL,
    is_paid boolean,
    weight float8,
    ref uuid,
    note text
);
INSERT INTO {name}
SELECT i,
       (i * 7) % 100000,
       ((i % 100000) / 100.0)::numeric(12,2),
       (ARRAY['new', 'paid', 'shipped', 'cancelled', 'returned'])[1 + i % 5],
       'SKU-' || lpad((i % 5000)::text, 6, '0'),
       date '2024-01-01' + (i % 60)::int,
       timestamp '2024-01-01' + i * interval '1 second',
       timestamptz '2024-03-01 00:00:00+00' + (i % 86400) * interval '1 second',
       i % 3 = 0,
       i * 0.001,
       md5(i::text)::uuid,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'note for order ' || i END
FROM generate_series(1, {rows}) AS i;
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000,5000000", help="row counts, comma-separated")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="100k and 500k rows")
    a = ap.parse_args()
    need_peer()
    if not shutil.which("psql"):
        raise SystemExit("psql not found (Debian package postgresql-client)")
    sizes = [100_000, 500_000] if a.quick else [int(x) for x in a.rows.split(",")]
    print_machine()
    results: dict[tuple[str, int], list[dict]] = {}
    with postgres_server() as server, server.fresh_database() as db:
        with server.connect(db, autocommit=True) as conn:
            for rows in sizes:
                conn.execute(FILL.format(name=f"bench_{rows}", rows=rows))
                conn.execute(f"VACUUM (FREEZE, ANALYZE) bench_{rows}")
            size = {r: conn.execute(f"SELECT pg_size_pretty(pg_total_relation_size('bench_{r}'))").fetchone()[0] for r in sizes}
        pg = json.dumps({"host": server.host, "port": server.port, "user": server.user, "db": db})
        for rows in sizes:
            tbl = f"bench_{rows}"
            for _ in range(a.reps):
                for mode, python in (("copy", OURS_PY), ("ours", OURS_PY), ("pandas", PEER_PY)):
                    work = tmpdir(f"dagf-bench-extract-{mode}-")
                    try:
                        r = run_child(python, [CHILD, mode, pg, tbl, str(work)], env=None, timeout=3600)
                    finally:
                        shutil.rmtree(work, ignore_errors=True)
                    if r["rows"] != rows:
                        print(f"!! {mode} {tbl}: {r['rows']} rows, expected {rows}")
                    results.setdefault((mode, rows), []).append(r)

    def med(mode: str, rows: int, key: str) -> float:
        return median([r[key] for r in results[(mode, rows)]])

    print("### Extraction: PostgreSQL table -> Parquet (ours also -> DuckDB)\n")
    print("table sizes on disk: " + ", ".join(f"{r:,} rows {s}" for r, s in size.items()) + "\n")
    out = []
    for rows in sizes:
        copy_rs = rows / med("copy", rows, "extract_s")
        pandas_peak = med("pandas", rows, "peak_extract_mb")
        pandas_base = med("pandas", rows, "baseline_mb")
        lines = [
            ("COPY TO STDOUT > /dev/null (psql, floor)", "copy", "extract_s", "peak_extract_mb"),
            ("ours: extract to Parquet lake", "ours", "extract_s", "peak_extract_mb"),
            ("ours: extract + load into DuckDB", "ours", "total_s", "peak_total_mb"),
            ("pandas path (SqlToS3Operator get_df + to_parquet)", "pandas", "extract_s", "peak_extract_mb"),
        ]
        for label, mode, tkey, mkey in lines:
            s = med(mode, rows, tkey)
            peak, base = med(mode, rows, mkey), med(mode, rows, "baseline_mb")
            out.append(
                [
                    f"{rows:,}",
                    label,
                    f"{s:.2f}",
                    f"{rows / s:,.0f}",
                    f"{(rows / s) / copy_rs:.2f}",
                    f"{peak:.0f}",
                    f"{peak - base:.0f}" if mode != "copy" else "-",
                    f"{peak / pandas_peak:.2f}" if mode != "copy" else "-",
                    f"{(peak - base) / (pandas_peak - pandas_base):.2f}" if mode != "copy" else "-",
                ]
            )
    print(
        table(
            ["rows", "path", "s", "rows/s", "vs COPY", "peak RSS MB", "peak - baseline MB", "peak vs pandas", "growth vs pandas"],
            out,
        )
    )
    print()
    checks = []
    for rows in sizes:
        o_rs, p_rs, c_rs = (rows / med(m, rows, "extract_s") for m in ("ours", "pandas", "copy"))
        o_pk, p_pk = med("ours", rows, "peak_extract_mb"), med("pandas", rows, "peak_extract_mb")
        o_gr, p_gr = o_pk - med("ours", rows, "baseline_mb"), p_pk - med("pandas", rows, "baseline_mb")
        checks.append(
            [
                f"{rows:,}",
                f"{o_rs / p_rs:.2f}x {'met' if o_rs / p_rs >= 2 else 'MISSED'}",
                f"{o_pk / p_pk:.2f} {'met' if o_pk / p_pk <= 1 / 3 else 'MISSED'}",
                f"{o_gr / p_gr:.2f} {'met' if o_gr / p_gr <= 1 / 3 else 'MISSED'}",
                f"{c_rs / o_rs:.2f}x {'met' if c_rs / o_rs <= 2 else 'MISSED'}",
            ]
        )
    print(
        table(
            [
                "rows",
                "ours/pandas rows/s (>= 2x)",
                "ours/pandas peak RSS (<= 0.33)",
                "same, growth over baseline",
                "COPY/ours rows/s (<= 2x)",
            ],
            checks,
        )
    )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for key, label in (("peak_extract_mb", "extract"), ("peak_total_mb", "extract + load")):
            a_, b_ = med("ours", lo, key), med("ours", hi, key)
            ga, gb = a_ - med("ours", lo, "baseline_mb"), b_ - med("ours", hi, "baseline_mb")
            print(
                f"\nours RSS flat ({label}): peak at {hi:,} rows / at {lo:,} rows = {b_ / a_:.2f} "
                f"({'met' if b_ / a_ < 1.2 else 'MISSED'} < 1.2); growth over baseline {gb:.0f} / {ga:.0f} MB = {gb / ga:.2f}"
            )


if __name__ == "__main__":
    main()
