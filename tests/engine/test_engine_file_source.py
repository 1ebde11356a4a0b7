"""`type: file`: CSV, JSON lines and Parquet from a local folder and from S3 (moto in server
mode over HTTP on 127.0.0.1), the path templated with the interval; the wait sensor's poke."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dag_factory.config.loader import load_pipeline
from dag_factory.config.model import FileSource, Lake, Load, Pipeline, Target, Wait
from dag_factory.config.schedules import Interval
from dag_factory.engine.aws import AwsContext
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.normalize import normalize
from dag_factory.engine.runner import extract, load
from dag_factory.engine.sources import open_source
from dag_factory.engine.sources.file import glob_regex
from dag_factory.errors import EngineError
from tests.support.moto_server import MotoServer, moto_aws  # noqa: F401  (fixture)

DAY1 = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
DAY2 = Interval(datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC))

ROWS_DAY1 = [
    {"id": 1, "name": "alpha", "amount": "10.50", "updated_at": "2024-03-01T00:00:00Z"},
    {"id": 2, "name": "", "amount": "-0.01", "updated_at": "2024-03-01T23:59:59Z"},
    {"id": 3, "name": None, "amount": None, "updated_at": "2024-03-02T00:00:00Z"},  # next day's: filtered when incremental
]
ROWS_DAY1_B = [{"id": 4, "name": 'quote "and" comma,', "amount": "4.00", "updated_at": "2024-03-01T12:00:00Z"}]


def encode(fmt: str, rows: list[dict]) -> bytes:
    if fmt == "jsonl":
        return "".join(
            json.dumps({**r, "amount": None if r["amount"] is None else float(r["amount"])}) + "\n" for r in rows
        ).encode()
    if fmt == "csv":
        buf = io.StringIO()
        buf.write("id,name,amount,updated_at\n")
        for r in rows:
            name = "" if r["name"] is None else '"' + r["name"].replace('"', '""') + '"'
            buf.write(f"{r['id']},{name},{r['amount'] or ''},{r['updated_at']}\n")
        return buf.getvalue().encode()
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "amount": pa.array([None if r["amount"] is None else Decimal(r["amount"]) for r in rows], pa.decimal128(12, 2)),
            "updated_at": pa.array([datetime.fromisoformat(r["updated_at"]) for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


class Landing:
    """Where files land: a local folder or an S3 bucket + prefix."""

    def __init__(self, kind: str, tmp_path, moto: MotoServer | None) -> None:
        self.kind = kind
        if kind == "local":
            self.root = tmp_path / "landing"
            self.root.mkdir()
            self.conn = ConnInfo("landing", "fs", extra={"path": str(self.root)})
            self.aws = None
        else:
            assert moto is not None
            self.moto = moto
            self.bucket = moto.new_bucket("landing")
            self.conn = ConnInfo("landing", "aws", extra={"bucket": self.bucket, "prefix": "inbox"})
            self.aws = lambda conn: AwsContext(moto.shared_session(), moto.endpoint_url, "us-east-1")

    def put(self, rel: str, data: bytes) -> None:
        if self.kind == "local":
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            self.moto.client("s3").put_object(Bucket=self.bucket, Key=f"inbox/{rel}", Body=data)

    def read(self, source: FileSource, load: Load | None = None, iv: Interval = DAY1) -> pa.Table:
        with open_source(self.conn, "file", self.aws) as src:
            load = load or Load("snapshot")
            schema, batches = normalize(src.read(source, load, iv), source, load, iv)
            return pa.Table.from_batches(list(batches), schema=schema)


@pytest.fixture(params=["local", "s3"])
def landing(request, tmp_path):
    moto = request.getfixturevalue("moto_aws") if request.param == "s3" else None
    return Landing(request.param, tmp_path, moto)


FIELDS = (("id", "integer"), ("name", "string"), ("amount", "decimal(12,2)"), ("updated_at", "timestamp"))


def _norm(rows: list[dict]) -> list[tuple]:
    out = []
    for r in rows:
        ts = r["updated_at"]
        ts = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
        ts = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
        amount = None if r["amount"] is None else Decimal(str(r["amount"])).quantize(Decimal("0.01"))
        out.append((r["id"], r["name"], amount, ts))
    return sorted(out)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_formats_templated_path_and_incremental_filter(fmt, landing):
    landing.put(f"exports/2024-03-01/a.{fmt}", encode(fmt, ROWS_DAY1))
    landing.put(f"exports/2024-03-01/b.{fmt}", encode(fmt, ROWS_DAY1_B))
    landing.put("exports/2024-03-01/_SUCCESS", b"")  # marker files are never read
    landing.put(f"exports/2024-03-02/c.{fmt}", encode(fmt, [ROWS_DAY1[2]]))  # another day's folder
    fields = () if fmt == "parquet" else FIELDS
    source = FileSource("landing", path="exports/{{ ds }}/*." + fmt, format=fmt, fields=fields, batch_size=2)
    whole = landing.read(source)
    assert _norm(whole.to_pylist()) == _norm(ROWS_DAY1 + ROWS_DAY1_B)
    assert whole.schema.field("amount").type == pa.decimal128(12, 2)
    assert pa.types.is_timestamp(whole.schema.field("updated_at").type)
    # '' stays '' (CSV: quoted ""), NULL stays NULL (CSV: empty unquoted)
    assert sorted(whole.column("name").to_pylist(), key=str) == sorted(["alpha", "", None, 'quote "and" comma,'], key=str)
    inc = landing.read(source, Load("incremental", cursor="updated_at"))
    assert sorted(inc.column("id").to_pylist()) == [1, 2, 4]  # [start, end): the row at the end belongs to day 2
    assert _norm(landing.read(source, Load("snapshot"), DAY2).to_pylist()) == _norm([ROWS_DAY1[2]])


def test_inferred_csv_and_jsonl_and_nested(landing):
    landing.put("in/x.csv", b'id,price,day,note\n1,1.5,2024-03-01,\n2,2,2024-03-02,""\n3,,,hi\n')
    t = landing.read(FileSource("landing", path="in/*.csv", format="csv"))
    assert t.schema.types == [pa.int64(), pa.float64(), pa.date32(), pa.string()]
    assert t.column("note").to_pylist() == [None, "", "hi"]  # empty unquoted: NULL; quoted "": ''
    assert t.column("day").to_pylist() == [date(2024, 3, 1), date(2024, 3, 2), None]
    landing.put("in/y.jsonl", b'{"id": 1, "obj": {"a": [1, 2]}}\n\n{"id": 2}\n')
    t = landing.read(FileSource("landing", path="in/*.jsonl", format="jsonl"))
    assert t.to_pylist() == [{"id": 1, "obj": '{"a":[1,2]}'}, {"id": 2, "obj": None}]


def test_glob_rules():
    rx = glob_regex("exports/*/part-?.csv")
    assert rx.match("exports/2024-03-01/part-1.csv") and not rx.match("exports/a/b/part-1.csv")
    assert glob_regex("exports/**/*.csv").match("exports/a/b/c.csv")
    assert glob_regex("exports/**/*.csv").match("exports/c.csv")
    assert not glob_regex("*.csv").match("x.csv.gz")


def test_no_match_mismatch_and_bad_values(landing):
    source = FileSource("landing", path="exports/{{ ds_nodash }}/*.csv", format="csv")
    with pytest.raises(EngineError, match=r"no file matches 'exports/20240301/\*.csv'.*set source.wait"):
        landing.read(source)
    landing.put("exports/20240301/a.csv", b"id,n\n1,2\n")
    landing.put("exports/20240301/b.csv", b"id,n\n2,x\n")  # 'x' does not fit the first file's int64
    with pytest.raises(EngineError, match=r"b.csv: .*id: int64, n: int64.*invalid value 'x'"):
        landing.read(source)
    landing.put("exports/20240301/b.csv", b"id,m\n2,3\n")  # other columns
    with pytest.raises(EngineError, match=r"b.csv: columns \['id', 'm'\] differ"):
        landing.read(source)


def test_file_pipeline_end_to_end_into_duckdb(tmp_path):
    """extract + load through the runner: a file source behaves like any other source."""
    landing = Landing("local", tmp_path, None)
    landing.put("exports/2024-03-01/a.csv", encode("csv", ROWS_DAY1))
    pipeline = Pipeline(
        name="files_orders",
        source=FileSource("landing", path="exports/{{ ds }}/*.csv", format="csv", fields=FIELDS),
        load=Load("incremental", cursor="updated_at", primary_key=("id",)),
        target=Target("wh", "analytics.orders"),
        lake=Lake("lake", "files/orders"),
    )
    lake = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})
    wh = ConnInfo("wh", "duckdb", host=str(tmp_path / "wh.duckdb"))
    for _ in range(2):  # a re-run changes nothing
        extract(pipeline, DAY1, landing.conn, lake)
        load(pipeline, DAY1, lake, wh)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as db:
        got = db.execute("select id, name, amount from analytics.orders order by id").fetchall()
    assert got == [(1, "alpha", Decimal("10.50")), (2, "", Decimal("-0.01"))]


def test_file_pipeline_from_yaml(tmp_path):
    (tmp_path / "landing_orders.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            name: landing_orders
            source:
              type: file
              conn_id: landing
              path: exports/{{ ds }}/*.csv
              format: csv
              wait: {timeout: 2h, poke_interval: 5m}
            load: {mode: snapshot}
            target: {conn_id: warehouse, table: analytics.landing_orders}
            """
        )
    )
    p = load_pipeline(tmp_path / "landing_orders.yaml", tmp_path)
    from datetime import timedelta

    assert p.source == FileSource(
        "landing", path="exports/{{ ds }}/*.csv", format="csv", wait=Wait(timedelta(hours=2), timedelta(minutes=5))
    )


@pytest.mark.airflow
def test_wait_sensor_pokes_false_then_true(tmp_path):
    """The sensor's poke asks the engine for a matching file of the run's interval; the DAG
    puts it before extract.to_lake inside the extract group, in reschedule mode."""
    from dag_factory.airflow.builder import build_dag
    from dag_factory.airflow.sensors import files_ready

    landing = Landing("local", tmp_path, None)
    pipeline = Pipeline(
        name="late_files",
        source=FileSource("landing", path="exports/{{ ds }}/*.jsonl", format="jsonl", wait=Wait()),
        load=Load("snapshot"),
        target=Target("wh", "analytics.late"),
    )
    context = {"data_interval_start": DAY1.start, "data_interval_end": DAY1.end}

    def poke() -> bool:
        return files_ready(pipeline, context, resolve=lambda conn_id: landing.conn, aws=lambda c: None)

    assert poke() is False
    landing.put("exports/2024-03-02/x.jsonl", b'{"id": 1}\n')  # another day's file does not count
    assert poke() is False
    landing.put("exports/2024-03-01/x.jsonl", b'{"id": 1}\n')
    assert poke() is True

    dag = build_dag(pipeline)
    sensor = dag.get_task("extract.wait_for_files")
    assert sensor.mode == "reschedule" and sensor.timeout == 3600 and sensor.poke_interval == 300
    assert [t.task_id for t in sensor.downstream_list] == ["extract.to_lake"]
