"""Issue 13.7/13.8: `dag-factory new` in a real terminal (tmux), answered like a person would."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from dag_factory.cli import main
from dag_factory.config.loader import load_pipelines
from tests.support.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def terminal(repo, tmp_path):
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "TERM": "xterm",
        "HOME": str(tmp_path),
    }
    term = Terminal(tmp_path, repo, env)
    yield term
    term.close()


def test_new_asks_for_what_is_missing_and_explains_the_history(repo, terminal):
    terminal.type(f"{sys.executable} -m dag_factory.cli new shop_refunds")
    answers = [
        ("source CONN.TABLE", "shop_db.refunds"),
        ("target CONN.SCHEMA.TABLE", "warehouse.analytics.refunds"),
        ("load mode", ""),  # Enter: incremental
        ("cursor column", "updated_at"),
        ("primary key columns", "id"),
        ("schedule", ""),  # Enter: @daily
        ("rows with an earlier updated_at arrive only through a backfill", None),
        ("start_date (YYYY-MM-DD)", "2024-03-01"),
        ("load the rows from before start_date once", "maybe"),  # refused: y or n
        ("answer y or n", "y"),
        ("lake path", ""),
    ]
    at = 0
    for prompt, answer in answers:
        at = terminal.wait_for(prompt, at)
        if answer is not None:
            terminal.type(answer)
    at = terminal.wait_for("wrote pipelines/shop_refunds.yaml", at)
    at = terminal.wait_for("You chose to load them: after the merge, run once", at)
    terminal.wait_for("dag-factory run shop_refunds --from FIRST_DAY --to 2024-02-29", at)

    pipeline = load_pipelines(repo / "pipelines").pipelines["shop_refunds"]
    assert (pipeline.load.mode, pipeline.load.cursor, pipeline.load.primary_key) == ("incremental", "updated_at", ("id",))
    assert pipeline.start_date == date(2024, 3, 1)
    text = (repo / "pipelines/shop_refunds.yaml").read_text()
    assert "row_count" not in text.replace("(no row_count min", "")  # a quiet day must not fail a suggested check


def test_start_date_defaults_to_today_but_says_how_to_load_the_history(repo, capsys):
    args = ["--source", "shop_db.events", "--target", "warehouse.analytics.events", "--mode", "incremental"]
    assert main(["new", "shop_events", *args, "--cursor", "created_at", "--no-input"]) == 0
    out = capsys.readouterr().out
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert "rows whose created_at is earlier are not loaded" in out
    assert f"dag-factory run shop_events --from FIRST_DAY --to {yesterday}" in out


@pytest.mark.parametrize(("mode", "suggests_min_rows"), [("incremental", False), ("snapshot", True), ("full_refresh", True)])
def test_row_count_min_is_suggested_only_where_every_run_has_rows(repo, capsys, mode, suggests_min_rows):
    extra = ["--cursor", "updated_at"] if mode == "incremental" else []
    args = ["--source", "shop_db.stock", "--target", "warehouse.analytics.stock", "--mode", mode, *extra, "--no-input"]
    assert main(["new", "shop_stock", *args]) == 0
    text = (repo / "pipelines/shop_stock.yaml").read_text()
    assert ("- row_count: {min: 1}" in text) is suggests_min_rows
    assert "- not_null: [id]" in text
    assert os.path.exists(repo / "pipelines/shop_stock.yaml")
