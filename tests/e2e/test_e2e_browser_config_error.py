"""Issue 13.11 in a real browser: a broken pipeline's error is readable on the DAG list itself,
without a click, and its owner is the one its YAML names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.airflow_server import AirflowServer

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 60_000

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/chromium.sh)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

BROKEN = """\
version: 1
name: broken_card
owner: finance
source: {type: sql, conn_id: shop_db, table: orders}
load: {mode: incremental, cursor: updated_at, primary_key: [id]}
target: {conn_id: warehouse, table: analytics.broken_card}
schedule: daily
"""


@pytest.fixture
def broken_dag(parsed_server: AirflowServer) -> Iterator[dict]:
    path = parsed_server.pipelines / "broken_card.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    try:

        def probe():
            dag = parsed_server.dags().get("broken_card")
            return dag is not None and "CONFIG ERROR" in (dag.get("dag_display_name") or ""), dag

        yield parsed_server.wait_for("the broken pipeline's placeholder DAG", probe, timeout=180)
    finally:
        path.unlink()


def test_config_error_is_visible_on_the_dag_list(parsed_server: AirflowServer, broken_dag: dict, tmp_path):
    expected = (
        "broken_card: CONFIG ERROR line 7: cron expression 'daily' must have 5 fields (minute hour day month weekday) "
        '(did you mean @daily? Write it quoted: schedule: "@daily")'
    )
    assert broken_dag["dag_display_name"] == expected
    assert broken_dag["owners"] == ["finance"]
    assert "config-error" in [t["name"] for t in broken_dag["tags"]]

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect = playwright_api.expect
            page.goto(parsed_server.base_url + "/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(parsed_server.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"), timeout=TIMEOUT_MS)

            page.goto(parsed_server.base_url + "/dags")  # the list; no DAG is opened
            expect(page.get_by_text(expected).first).to_be_visible(timeout=TIMEOUT_MS)
            assert "/dags/broken_card" not in page.url
            page.screenshot(path=str(tmp_path / "dag-list-config-error.png"), full_page=True, animations="disabled")
        finally:
            browser.close()
