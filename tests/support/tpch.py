"""TPC-H as a standard dataset for type-fidelity tests: generate, load into real sources, read back.

Data comes from `tpchgen-cli` (the Rust port of dbgen, test extra) and goes into the
source databases with the benchmark's own DDL (dss.ddl: decimal(15,2), date, char(n),
varchar(n), integer keys) through the drivers, never through our engine, so what the
tests compare the warehouse with is independent of the code under test.

Three edits on top of the generated rows make NULL vs '' observable (TPC-H itself has
neither): nation 0's comment is NULL, nation 1's comment is '', region 4's char(25)
name is ''. The generated varchar comments already carry trailing blanks, which must
survive (only char(n) padding is dropped).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# 60,175 lineitem rows: every table, a few seconds per source; DAG_FACTORY_TEST_TPCH_SF=1 for the full size
SCALE = os.environ.get("DAG_FACTORY_TEST_TPCH_SF", "0.01")


@dataclass(frozen=True)
class Col:
    name: str
    sql: str  # the standard DDL type

    @property
    def kind(self) -> str:
        """'int', 'decimal', 'date', 'char', 'varchar' (from the DDL type)."""
        return self.sql.split("(")[0].lower().replace("integer", "int")


def _cols(spec: str) -> tuple[Col, ...]:
    return tuple(Col(*c.split(maxsplit=1)) for c in (p.strip() for p in spec.split(",\n")) if c)


# dss.ddl, lower-cased; NOT NULL everywhere except n_comment and r_comment, as in the kit
TABLES: dict[str, tuple[Col, ...]] = {
    "region": _cols("r_regionkey integer,\n r_name char(25),\n r_comment varchar(152)"),
    "nation": _cols("n_nationkey integer,\n n_name char(25),\n n_regionkey integer,\n n_comment varchar(152)"),
    "supplier": _cols(
        "s_suppkey integer,\n s_name char(25),\n s_address varchar(40),\n s_nationkey integer,\n"
        " s_phone char(15),\n s_acctbal decimal(15,2),\n s_comment varchar(101)"
    ),
    "customer": _cols(
        "c_custkey integer,\n c_name varchar(25),\n c_address varchar(40),\n c_nationkey integer,\n"
        " c_phone char(15),\n c_acctbal decimal(15,2),\n c_mktsegment char(10),\n c_comment varchar(117)"
    ),
    "part": _cols(
        "p_partkey integer,\n p_name varchar(55),\n p_mfgr char(25),\n p_brand char(10),\n p_type varchar(25),\n"
        " p_size integer,\n p_container char(10),\n p_retailprice decimal(15,2),\n p_comment varchar(23)"
    ),
    "partsupp": _cols(
        "ps_partkey integer,\n ps_suppkey integer,\n ps_availqty integer,\n ps_supplycost decimal(15,2),\n"
        " ps_comment varchar(199)"
    ),
    "orders": _cols(
        "o_orderkey integer,\n o_custkey integer,\n o_orderstatus char(1),\n o_totalprice decimal(15,2),\n"
        " o_orderdate date,\n o_orderpriority char(15),\n o_clerk char(15),\n o_shippriority integer,\n"
        " o_comment varchar(79)"
    ),
    "lineitem": _cols(
        "l_orderkey integer,\n l_partkey integer,\n l_suppkey integer,\n l_linenumber integer,\n"
        " l_quantity decimal(15,2),\n l_extendedprice decimal(15,2),\n l_discount decimal(15,2),\n"
        " l_tax decimal(15,2),\n l_returnflag char(1),\n l_linestatus char(1),\n l_shipdate date,\n"
        " l_commitdate date,\n l_receiptdate date,\n l_shipinstruct char(25),\n l_shipmode char(10),\n"
        " l_comment varchar(44)"
    ),
}
PRIMARY_KEYS = {
    "region": "r_regionkey",
    "nation": "n_nationkey",
    "supplier": "s_suppkey",
    "customer": "c_custkey",
    "part": "p_partkey",
    "partsupp": "ps_partkey, ps_suppkey",
    "orders": "o_orderkey",
    "lineitem": "l_orderkey, l_linenumber",
}
NULLABLE = {"n_comment", "r_comment"}
EDITS = (
    "UPDATE nation SET n_comment = NULL WHERE n_nationkey = 0",
    "UPDATE nation SET n_comment = '' WHERE n_nationkey = 1",
    "UPDATE region SET r_name = '' WHERE r_regionkey = 4",
)


def ddl(table: str) -> str:
    cols = ",\n  ".join(f"{c.name} {c.sql}{'' if c.name in NULLABLE else ' NOT NULL'}" for c in TABLES[table])
    return f"CREATE TABLE {table} (\n  {cols},\n  PRIMARY KEY ({PRIMARY_KEYS[table]})\n)"


def tpchgen_binary() -> str:
    """The tpchgen-cli next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / "tpchgen-cli"
    found = str(here) if os.access(here, os.X_OK) else shutil.which("tpchgen-cli")
    if not found:
        raise RuntimeError("tpchgen-cli not found: pip install the test extra (-e '.[test]')")
    return found


def generate(out: Path, scale: str = SCALE) -> Path:
    """CSV files (with a header row) for every table into `out`."""
    subprocess.run(
        [tpchgen_binary(), "csv", "-s", scale, "-o", str(out), "--quiet", "--no-progress"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    missing = [t for t in TABLES if not (out / f"{t}.csv").is_file()]
    if missing:
        raise RuntimeError(f"tpchgen-cli wrote no file for {missing} in {out}")
    return out


def load_postgres(conn, data: Path) -> None:
    """Standard DDL plus COPY of the generated CSV into a psycopg connection's database."""
    with conn.transaction():
        for table in TABLES:
            conn.execute(ddl(table))
            with conn.cursor().copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                with open(data / f"{table}.csv", "rb") as f:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
        for edit in EDITS:
            conn.execute(edit)


def load_mariadb(conn, data: Path) -> None:
    """Standard DDL plus the generated rows (batched INSERTs) into a PyMySQL connection's database."""
    with conn.cursor() as cur:
        cur.execute("SET sql_mode = 'STRICT_ALL_TABLES'")  # a value that does not fit fails, never truncates
        for table in TABLES:
            cur.execute(ddl(table))
            cols = TABLES[table]
            insert = f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(cols))})"
            with open(data / f"{table}.csv", newline="", encoding="utf-8") as f:
                rows = csv.reader(f)
                next(rows)
                batch: list[list[str]] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == 5000:
                        cur.executemany(insert, batch)
                        batch = []
                if batch:
                    cur.executemany(insert, batch)
        for edit in EDITS:
            cur.execute(edit)


def decimal_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.kind == "decimal"]


def text_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.kind in ("char", "varchar")]


def char_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.kind == "char"]


def as_char_text(table: str, row: tuple) -> tuple:
    """A source row as PostgreSQL's char(n) -> text cast has it: trailing blanks of char(n) dropped."""
    chars = {i for i, c in enumerate(TABLES[table]) if c.kind == "char"}
    return tuple(v.rstrip(" ") if i in chars and isinstance(v, str) else v for i, v in enumerate(row))


def sums_sql(table: str) -> str | None:
    """SELECT of the exact sum of every decimal column (None when the table has none)."""
    cols = decimal_columns(table)
    return f"SELECT {', '.join(f'sum({c})' for c in cols)} FROM {table}" if cols else None
