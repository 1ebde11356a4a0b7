"""Issue 13.12: `docs` says where it wrote and whether to commit it; `diff` shows what a reviewer
checks on an added pipeline (start date, key, lookback, schedule)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dag_factory.cli import main

REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull,
}  # fmt: skip


def git(repo: Path, *args: str) -> None:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert out.returncode == 0, out.stderr


def _repo(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_docs_says_where_it_wrote_and_whether_to_commit(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, monkeypatch)
    assert main(["docs"]) == 0
    out = capsys.readouterr().out
    assert f"to docs/catalog/ ({repo.resolve() / 'docs/catalog'})" in out
    assert "not committed yet: commit it to publish the catalog" in out

    git(repo, "add", "docs/catalog")
    git(repo, "commit", "-qm", "catalog")
    assert main(["docs"]) == 0
    assert "this folder is committed: commit the updated pages with the pipeline change" in capsys.readouterr().out

    (repo / ".gitignore").write_text("docs/catalog/\n")
    git(repo, "rm", "-rq", "--cached", "docs/catalog")
    assert main(["docs"]) == 0
    assert "this folder is git-ignored: the catalog stays local" in capsys.readouterr().out


def test_diff_shows_start_date_key_lookback_and_schedule_of_an_added_pipeline(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, monkeypatch)
    git(repo, "checkout", "-qb", "feature")
    (repo / "pipelines/shop_refunds.yaml").write_text(
        "version: 1\nname: shop_refunds\nschedule: '0 4 * * *'\nstart_date: 2024-02-01\n"
        "source: {type: sql, conn_id: shop_db, table: refunds}\n"
        "load: {mode: incremental, cursor: updated_at, primary_key: [refund_id]}\n"
        "target: {conn_id: warehouse, table: analytics.refunds}\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "refunds")
    assert main(["diff", "main"]) == 0
    out = capsys.readouterr().out
    review = next(line for line in out.splitlines() if line.strip().startswith("review:"))
    assert "start_date 2024-02-01 (no catchup: earlier days need a backfill)" in review
    assert "schedule " in review and "key refund_id" in review and "cursor updated_at" in review
    assert "lookback none (each run reads exactly its interval)" in review

    assert main(["diff", "main", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "start\\_date 2024-02-01" in md or "start_date 2024-02-01" in md
    assert "key refund" in md
