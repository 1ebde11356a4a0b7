"""`type: http` against a real HTTP server on 127.0.0.1 (tests/support/http_api.py).

The server paginates in each supported style, throttles once (429 + Retry-After: 0)
and fails once (500) on different pages; every record must arrive exactly once.
The load modes reuse the independent model of test_engine_modes.py over an API
whose data changes between runs.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from dag_factory.config.loader import load_pipeline
from dag_factory.config.model import HttpSource, Lake, Load, Pagination, Pipeline, Target
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.normalize import normalize
from dag_factory.engine.runner import extract, load
from dag_factory.engine.sources import open_source
from dag_factory.errors import EngineError
from tests.engine.test_engine_modes import (
    INTERVALS,
    MODES,
    DuckWh,
    Row,
    initial_state,
    model_apply,
    model_extract,
    mutate_before_day2,
    mutate_before_day3,
    sort_key,
)
from tests.support.http_api import TOKEN, Api, http_api

DAY = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))


@pytest.fixture(scope="module")
def api_server():
    with http_api() as api:
        yield api


@pytest.fixture
def api(api_server: Api) -> Api:
    st = api_server.state
    with st.lock:
        st.records, st.faults, st.log, st.page_size, st.auth, st.link_origin = [], {}, [], 2, "bearer", ""
    return api_server


def conn_for(api: Api, **extra) -> ConnInfo:
    # host without scheme + port, as an Airflow HTTP connection often has it; the token is a header in extra
    return ConnInfo("api", "http", host=api.host, port=api.port, extra={"Authorization": f"Bearer {TOKEN}", **extra})


def read_all(api: Api, source: HttpSource, load: Load | None = None, conn: ConnInfo | None = None) -> pa.Table:
    with open_source(conn or conn_for(api), "http") as src:
        load = load or Load("full_refresh")
        schema, batches = normalize(src.read(source, load, DAY), source, load, DAY)
        return pa.Table.from_batches(list(batches), schema=schema)


def records(n: int) -> list[dict]:
    return [
        {"id": i, "name": f"r{i}", "amount": i * 1.5, "updated_at": f"2024-03-01T{i:02d}:00:00Z", "tags": {"k": [i]}}
        for i in range(1, n + 1)
    ]


STYLES = {
    "page_number": (
        "/page",
        "data",
        Pagination("page_number", page_param="page", size_param="per_page", page_size=2),
        ["2", "3"],
    ),
    "cursor": ("/cursor", "items", Pagination("cursor", cursor_param="cursor", cursor_path="meta.next_cursor"), ["tok2", "tok4"]),
    "next_link_body": ("/link", "results", Pagination("next_link", next_link_path="links.next"), ["2", "4"]),
    "next_link_header": ("/link-header", "", Pagination("next_link"), ["2", "4"]),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_every_record_exactly_once_through_429_and_500(style, api):
    path, records_path, pagination, (throttled, failing) = STYLES[style]
    api.state.set_records(records(7))  # 4 pages of 2
    api.state.fail(f"{path}:{throttled}", 429)
    api.state.fail(f"{path}:{failing}", 500)
    source = HttpSource("api", endpoint=path, records_path=records_path, pagination=pagination, batch_size=3)
    table = read_all(api, source)
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 5, 6, 7]  # every record once, in order
    log = api.state.log
    assert [s for p, k, s in log if k == throttled] == [429, 200]
    assert [s for p, k, s in log if k == failing] == [500, 200]
    ok = api.state.served(200)
    assert len(ok) == len(set(ok)) == 4  # each page fetched successfully exactly once
    # nested objects are kept as JSON text; numbers and strings keep their JSON types
    assert table.schema.field("tags").type == pa.string() and table.column("tags")[0].as_py() == '{"k":[1]}'
    assert table.schema.field("amount").type == pa.float64() and table.schema.field("id").type == pa.int64()


FIELDS = (("id", "integer"), ("name", "string"), ("amount", "decimal(12,2)"), ("updated_at", "timestamp"))


def _api_rows(state: dict[int, Row]) -> list[dict]:
    out = []
    for r in sorted(state.values(), key=lambda r: r.id):
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "amount": None if r.amount is None else float(r.amount),
                "updated_at": r.updated_at.isoformat() + "Z",
            }
        )
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_http_mode_over_three_days(mode, api, tmp_path):
    """Each load mode from a changing API into DuckDB; the API's interval filter is inclusive
    at both ends, the engine keeps [start, end) exactly."""
    warehouse = DuckWh(tmp_path)
    snapshot = mode == "snapshot"
    params = (
        (("updated_since", "{{ data_interval_start }}"), ("updated_until", "{{ data_interval_end }}"))
        if mode.startswith("incremental")
        else ()
    )
    pipeline = Pipeline(
        name="api_orders",
        source=HttpSource(
            "api",
            endpoint="/page",
            params=params,
            records_path="data",
            pagination=Pagination("page_number", size_param="per_page", page_size=2),
            fields=FIELDS,
            batch_size=2,
        ),
        load=MODES[mode],
        target=Target("wh", "analytics.orders"),
        lake=Lake("lake", "api/orders"),
    )
    lake_conn = ConnInfo("lake", "fs", extra={"path": str(tmp_path / "lake")})

    def run(iv: Interval) -> None:
        extract(pipeline, iv, conn_for(api), lake_conn)
        load(pipeline, iv, lake_conn, warehouse.conn)

    state = initial_state()
    expected: list = []
    for iv, mutate in zip(INTERVALS, [lambda s: None, mutate_before_day2, mutate_before_day3], strict=True):
        mutate(state)
        api.state.set_records(_api_rows(state))
        run(iv)
        expected = sorted(model_apply(expected, mode, iv, model_extract(state, mode, iv)), key=sort_key)
        assert warehouse.fetch(snapshot) == expected, f"after {iv}"
        run(iv)
        assert warehouse.fetch(snapshot) == expected, f"after re-running {iv}"
    if mode.startswith("incremental"):  # the interval really went to the API as URL parameters
        assert any(k == "1" for p, k, s in api.state.log)


def test_declared_fields_missing_values_and_empty_interval(api):
    api.state.set_records([{"id": 1, "amount": 0.1, "updated_at": "2024-03-01T10:00:00+09:00", "extra": "ignored"}])
    source = HttpSource("api", endpoint="/page", records_path="data", pagination=Pagination("page_number"), fields=FIELDS)
    t = read_all(api, source, Load("incremental", cursor="updated_at"))
    assert t.schema.names == ["id", "name", "amount", "updated_at"]
    assert t.schema.field("amount").type == pa.decimal128(12, 2)
    assert t.to_pylist() == [
        {"id": 1, "name": None, "amount": Decimal("0.10"), "updated_at": datetime(2024, 3, 1, 1, tzinfo=UTC)}
    ]
    api.state.set_records([])  # a quiet day: an empty extract with the declared schema
    t = read_all(api, source, Load("incremental", cursor="updated_at"))
    assert t.num_rows == 0 and t.schema.names == ["id", "name", "amount", "updated_at"]


def test_inferred_schema_is_fixed_by_the_first_page(api):
    pages = Pagination("page_number", size_param="per_page", page_size=2)
    src = HttpSource("api", endpoint="/page", records_path="data", pagination=pages)
    # a field missing in a later record is NULL; '' stays ''
    api.state.set_records([{"id": 1, "s": "a"}, {"id": 2, "s": ""}, {"id": 3}])
    assert read_all(api, src).to_pylist() == [{"id": 1, "s": "a"}, {"id": 2, "s": ""}, {"id": 3, "s": None}]
    # a type conflict on a later page
    api.state.set_records([{"id": 1, "n": 5}, {"id": 2, "n": 6}, {"id": 3, "n": "seven"}])
    with pytest.raises(EngineError, match=r"field 'n' on page 2 does not fit its type int64.*source.fields"):
        read_all(api, src)
    # a field the first page did not have
    api.state.set_records([{"id": 1}, {"id": 2}, {"id": 3, "late": True}])
    with pytest.raises(EngineError, match=r"field 'late' appears on page 2 but not on the first one"):
        read_all(api, src)
    # nothing at all and no declared fields: no schema to infer
    api.state.set_records([])
    with pytest.raises(EngineError, match="no records .* declare the fields"):
        read_all(api, src)
    # mixed types on the first page
    api.state.set_records([{"id": 1, "v": 1}, {"id": "two", "v": 2}])
    with pytest.raises(EngineError, match=r"field 'id' mixes"):
        read_all(api, src)


def test_auth_errors_and_safety(api):
    src = HttpSource("api", endpoint="/page", records_path="data", pagination=Pagination("page_number"))
    api.state.set_records(records(1))
    # basic auth from the connection's login/password
    api.state.auth = "basic"
    basic = ConnInfo("api", "http", host=f"http://127.0.0.1:{api.port}", login="api-user", password="api-secret")
    assert read_all(api, src, conn=basic).num_rows == 1
    wrong = ConnInfo("api", "http", host=f"http://127.0.0.1:{api.port}", login="api-user", password="nope-secret")
    with pytest.raises(EngineError, match="HTTP 401") as err:
        read_all(api, src, conn=wrong)
    assert "nope-secret" not in str(err.value)
    api.state.auth = "bearer"
    # a server that keeps failing: retries run out, the error names the status, not the token
    api.state.fail("/page:1", 503, 503, 503)
    with pytest.raises(EngineError, match="HTTP 503") as err:
        read_all(api, src, conn=conn_for(api, retries=2, backoff_factor=0))
    assert TOKEN not in str(err.value)
    assert [s for p, k, s in api.state.log if k == "1"][-3:] == [503, 503, 503]  # 1 try + 2 retries
    # unknown endpoint, missing records_path
    with pytest.raises(EngineError, match="HTTP 404"):
        read_all(api, HttpSource("api", endpoint="/nope"))
    with pytest.raises(EngineError, match=r"records_path 'rows' not found .*found: data, total"):
        read_all(api, HttpSource("api", endpoint="/page", records_path="rows"))
    # cursor/next-link loops and max_pages stop instead of running forever
    looping = HttpSource("api", endpoint="/page", records_path="data", pagination=Pagination("page_number", max_pages=1))
    api.state.set_records(records(3))
    with pytest.raises(EngineError, match="more than max_pages=1"):
        read_all(api, looping)


def test_next_link_to_another_host_is_not_followed(api):
    api.state.set_records(records(3))
    api.state.link_origin = "https://evil.example"  # page 1 links to page 2 on another host
    src = HttpSource(
        "api", endpoint="/link", records_path="results", pagination=Pagination("next_link", next_link_path="links.next")
    )
    with pytest.raises(EngineError, match=r"another host \(evil.example\)"):
        read_all(api, src)
    assert api.state.served() == [("/link", "first")]  # the token never went anywhere else


def test_http_pipeline_from_yaml(tmp_path):
    (tmp_path / "api_orders.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            name: api_orders
            source:
              type: http
              conn_id: shop_api
              endpoint: /v1/orders
              params: {updated_since: "{{ data_interval_start }}", limit: 100}
              records_path: data.items
              pagination: {type: cursor, cursor_path: meta.next, cursor_param: after}
              fields:                     # block style: in a {flow} mapping decimal(12,2) needs quotes
                id: integer
                total: decimal(12,2)
                updated_at: timestamp
            load: {mode: incremental, cursor: updated_at}
            target: {conn_id: warehouse, table: analytics.api_orders}
            """
        )
    )
    p = load_pipeline(tmp_path / "api_orders.yaml", tmp_path)
    assert p.source == HttpSource(
        "shop_api",
        endpoint="/v1/orders",
        params=(("updated_since", "{{ data_interval_start }}"), ("limit", "100")),
        records_path="data.items",
        pagination=Pagination("cursor", cursor_param="after", cursor_path="meta.next"),
        fields=(("id", "integer"), ("total", "decimal(12,2)"), ("updated_at", "timestamp")),
    )
    assert not p.in_warehouse
