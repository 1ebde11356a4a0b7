"""The Airflow UI in a real browser (Debian's chromium, headless, driven by Playwright):
log in through the login form, the DAG list shows the example pipelines with their
tags, a DAG's page shows its docs. Assertions are on page text; the screenshots are
for people (their folder is printed: $DAG_FACTORY_SCREENSHOTS or pytest's tmp)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLE_DAGS
from tests.support.airflow_server import AirflowServer

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000  # a 2-core machine also running scheduler, dag-processor and api-server

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/chromium.sh)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory, capsys_disabled_print) -> Path:
    folder = Path(os.environ["DAG_FACTORY_SCREENSHOTS"]) if os.environ.get("DAG_FACTORY_SCREENSHOTS") else None
    folder = folder or tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    capsys_disabled_print(f"\nAirflow UI screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def capsys_disabled_print(request):
    """Print straight to the terminal, even under pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def emit(text: str) -> None:
        with capture.global_and_fixture_disabled():
            print(text, flush=True)

    return emit


@pytest.fixture(scope="module")
def page(parsed_server: AirflowServer) -> Iterator:
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


def test_login_dag_list_and_dag_docs(page, parsed_server: AirflowServer, screenshots: Path):
    expect = playwright_api.expect
    base = parsed_server.base_url
    server_errors: list[str] = []  # a page can look fine while one of its panels failed to load
    page.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    # log in through the form (SimpleAuthManager), like a person would
    page.goto(base + "/")
    expect(page.get_by_text("Sign into Airflow")).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=str(screenshots / "01-login.png"), animations="disabled")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(parsed_server.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"), timeout=TIMEOUT_MS)

    # the DAG list: every example pipeline, with its tags. Page text arrives in steps
    # (translations, then the API's data), so every check is a retrying expect
    page.goto(base + "/dags")
    body = page.locator("body")
    for dag_id in sorted(EXAMPLE_DAGS):
        expect(page.get_by_text(dag_id, exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
    for tag in ("sales", "crm", "catalogue", "incremental", "snapshot", "full_refresh", "source:shop_db", "target:warehouse"):
        expect(body, f"tag {tag!r} on the DAG list page").to_contain_text(tag, timeout=TIMEOUT_MS)
    expect(body).to_contain_text(re.compile(r"\d+ Dags"), timeout=TIMEOUT_MS)  # translated, counted
    page.screenshot(path=str(screenshots / "02-dag-list.png"), full_page=True, animations="disabled")

    # one DAG's page, and its docs (behind the "Dag Docs" button in Airflow 3)
    page.goto(base + "/dags/shop_orders")
    for expected in ("Owner", "data-eng", "Tags", "sales", "incremental", "target:warehouse", "0 3 * * *"):
        expect(body, f"{expected!r} on the shop_orders page").to_contain_text(expected, timeout=TIMEOUT_MS)
    page.screenshot(path=str(screenshots / "03-dag-shop_orders.png"), full_page=True, animations="disabled")
    page.get_by_role("button", name="Dag Docs").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Orders from the shop DB", timeout=TIMEOUT_MS)
    docs = dialog.inner_text()
    for expected in ("Flow:", "analytics.orders", "Load (incremental)", "Schedule:", "shop_orders.yaml"):
        assert expected in docs, f"{expected!r} not in the DAG docs:\n{docs}"
    page.screenshot(path=str(screenshots / "04-dag-shop_orders-docs.png"), animations="disabled")

    # every DAG's page loads without a server error (grid, graph structure, runs)
    for dag_id in sorted(EXAMPLE_DAGS):
        page.goto(f"{base}/dags/{dag_id}")
        expect(body).to_contain_text("Owner", timeout=TIMEOUT_MS)
        _settle(page)
    assert not server_errors, "the UI got server errors:\n" + "\n".join(server_errors) + "\n" + parsed_server.log_tail(20)


def _settle(page) -> None:
    """Let the page's own requests finish (bounded; the UI polls, so this may not go idle)."""
    try:
        page.wait_for_load_state("networkidle", timeout=15_000)
    except playwright_api.TimeoutError:
        pass
