"""Typed Pipeline objects built from the example pipelines."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from dag_factory.config.build import parse_duration
from dag_factory.config.loader import load_pipeline, load_pipelines
from dag_factory.config.model import Lake, Load, Pipeline, SqlSource, Target
from tests.config.helpers import REPO, pipeline_yaml, write


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("DAG_FACTORY_ENV", raising=False)


def test_shop_orders_typed_values(in_repo):
    p = load_pipeline(Path("pipelines/shop_orders.yaml"), Path("pipelines"))
    assert isinstance(p, Pipeline)
    assert p.name == "shop_orders"
    assert p.description == "Orders from the shop DB, loaded by their last update time"
    assert p.owner == "data-eng"  # from pipelines/_defaults.yaml
    assert p.tags == ("sales",) and isinstance(p.tags, tuple)
    assert p.schedule == "0 3 * * *"
    assert p.timezone == "UTC"
    assert p.start_date == date(2024, 3, 1) and type(p.start_date) is date
    assert p.end_date is None
    assert p.catchup is False
    assert p.max_active_runs == 1
    assert p.source == SqlSource(conn_id="shop_db", table="orders", query=None, columns=None, batch_size=50_000)
    assert p.source.type == "sql"
    assert p.load == Load(mode="incremental", cursor="updated_at", primary_key=("id",))
    assert isinstance(p.load.primary_key, tuple)
    assert p.lake == Lake(conn_id="lake", path="raw/shop/orders")
    assert p.target == Target(conn_id="warehouse", table="analytics.orders")
    assert p.retries == 0 and type(p.retries) is int  # environments.local in _defaults.yaml (base: 2)
    assert p.retry_delay == timedelta(minutes=5) and isinstance(p.retry_delay, timedelta)
    assert p.timeout == timedelta(hours=1) and isinstance(p.timeout, timedelta)
    assert p.path == "pipelines/shop_orders.yaml"
    assert p.env == "local"
    assert p.resolved["source"] == {"type": "sql", "conn_id": "shop_db", "table": "orders"}
    assert p.resolved["start_date"] == "2024-03-01"


def test_example_set_types(in_repo):
    result = load_pipelines(Path("pipelines"))
    assert not result.errors, result.problems
    assert sorted(result.pipelines) == ["daily_sales_report", "shop_customers", "shop_orders", "shop_products"]
    customers = result.pipelines["shop_customers"]
    assert customers.load == Load(mode="snapshot")
    assert customers.source.columns == ("id", "name", "email", "city", "signup_date", "updated_at")
    assert isinstance(customers.source.columns, tuple)
    assert customers.schedule == "@daily"
    products = result.pipelines["shop_products"]
    assert products.source.table is None
    assert products.source.query == "select id, name, category, price, active from products"
    assert products.load == Load(mode="full_refresh", cursor=None, primary_key=())
    assert products.lake is None
    assert products.retries == 0  # environments.local beats the pipeline base value 1


def test_pipelines_are_frozen_and_hashable(in_repo):
    p = load_pipeline(Path("pipelines/shop_orders.yaml"), Path("pipelines"))
    with pytest.raises(AttributeError):
        p.name = "other"  # type: ignore[misc]
    assert hash(p.source) == hash(SqlSource(conn_id="shop_db", table="orders"))
    assert p == load_pipeline(Path("pipelines/shop_orders.yaml"), Path("pipelines"))


def test_defaults_fill_in_when_nothing_sets_them(tmp_path: Path):
    write(tmp_path / "bare.yaml", pipeline_yaml("bare").replace("schedule: '@daily'\n", ""))
    p = load_pipeline(tmp_path / "bare.yaml", tmp_path, env="local")
    assert (p.schedule, p.timezone, p.start_date, p.owner, p.tags) == ("@daily", "UTC", date(2024, 1, 1), "airflow", ())
    assert (p.retries, p.retry_delay, p.timeout, p.max_active_runs, p.catchup) == (
        2,
        timedelta(minutes=5),
        timedelta(hours=1),
        1,
        False,
    )
    assert p.lake is None and p.end_date is None


def test_manual_schedule_and_end_date_and_lake_path(tmp_path: Path):
    extra = "schedule: null\nstart_date: 2024-01-01\nend_date: 2024-12-31\nlake:\n  conn_id: lake\n  path: raw/x/\ntimeout: 1h30m\nretry_delay: 45s\n"
    write(tmp_path / "manual.yaml", pipeline_yaml("manual", extra=extra).replace("schedule: '@daily'\n", ""))
    p = load_pipeline(tmp_path / "manual.yaml", tmp_path, env="local")
    assert p.schedule is None
    assert (p.start_date, p.end_date) == (date(2024, 1, 1), date(2024, 12, 31))
    assert p.lake == Lake(conn_id="lake", path="raw/x")  # trailing slash stripped
    assert p.timeout == timedelta(hours=1, minutes=30)
    assert p.retry_delay == timedelta(seconds=45)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m5", "1m1h", "-5m", "5M"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)
