"""`dag-factory diff` on a temporary git repository: every kind of change is named correctly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dag_factory.cli import main
from dag_factory.cli.diff import diff

REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull,
}  # fmt: skip

OLD_FEED = """\
version: 1
name: old_feed
source: {type: sql, conn_id: shop_db, table: feed}
load: {mode: snapshot}
target: {conn_id: warehouse, table: analytics.feed}
environments: {prod: {lake: {conn_id: s3_lake, path: raw/feed}}}
"""
FIX_ME_BROKEN = """\
version: 1
name: fix_me
source: {type: sql, conn_id: shop_db, table: fixes}
load: {mode: incremental}
target: {conn_id: warehouse, table: analytics.fixes}
"""
TYPO = """\
version: 1
name: typo
source: {type: sql, conn_id: shop_db, table: typo}
load: {mode: snapshot}
target: {conn_id: warehouse, tabel: analytics.typo}
"""


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert out.returncode == 0, out.stderr
    return out.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """main: the examples + old_feed (valid) + fix_me (invalid); branch `feature` checked out."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    (tmp_path / "pipelines" / "old_feed.yaml").write_text(OLD_FEED)
    (tmp_path / "pipelines" / "fix_me.yaml").write_text(FIX_ME_BROKEN)
    (tmp_path / "README.md").write_text("data repo\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_changes(repo: Path, commit_some: bool = True) -> None:
    p = repo / "pipelines"
    edit(p / "shop_orders.yaml", '"0 3 * * *"', '"@hourly"')  # schedule
    edit(p / "shop_customers.yaml", "mode: snapshot", "mode: full_refresh")  # load type
    edit(p / "daily_sales_report.yaml", "row_count: {min: 1}", "row_count: {min: 5}")  # a check changed
    edit(p / "daily_sales_report.yaml", "  - not_null: [order_date, city]\n", "  - unique: [order_date]\n")  # one swapped
    git(repo, "mv", "pipelines/shop_products.yaml", "pipelines/shop_catalogue.yaml")  # renamed, same content
    edit(p / "shop_catalogue.yaml", "name: shop_products", "name: shop_catalogue")
    git(repo, "rm", "-q", "pipelines/old_feed.yaml")  # removed
    if commit_some:
        git(repo, "commit", "-qam", "part of the change")
    edit(p / "fix_me.yaml", "{mode: incremental}", "{mode: incremental, cursor: updated_at}")  # fixed
    (p / "typo.yaml").write_text(TYPO)  # added, broken (untracked: the working tree counts)
    flags = ["--source", "shop_db.refunds", "--target", "warehouse.analytics.refunds", "--mode", "incremental",
             "--cursor", "updated_at", "--no-input"]  # fmt: skip
    assert main(["new", "shop_refunds", *flags]) == 0  # added


def test_each_kind_of_change_is_named(repo, capsys):
    make_changes(repo)
    report = diff(None, Path("pipelines"))
    assert "merge base of HEAD and main" in report.base_label
    assert [f.name for f in report.added] == ["shop_refunds"]
    assert [f.name for f in report.removed] == ["old_feed"]
    assert [(a.name, b.name) for a, b, _ in report.renamed] == [("shop_products", "shop_catalogue")]
    assert report.renamed[0][2] == []  # same content
    changed = {f.name: [c.text for c in cs] for f, cs in report.changed}
    assert sorted(changed) == ["daily_sales_report", "shop_customers", "shop_orders"]
    assert changed["shop_orders"] == ["schedule: 0 3 * * * (At 03:00 AM, UTC) -> @hourly (Every hour, UTC)"]
    assert changed["shop_customers"][0] == "load type: snapshot -> full_refresh"
    assert "dropping the snapshot history" in changed["shop_customers"][1]
    assert changed["daily_sales_report"] == [
        "tasks: added load.checks.unique; removed load.checks.not_null",
        "check changed: load.checks.row_count: row count >= 1 -> row count >= 5",
        "check added: load.checks.unique: unique: order_date",
        "check removed: load.checks.not_null: not null: order_date, city",
    ]
    invalid = {path: (status, error) for path, status, error in report.invalid}
    assert invalid["pipelines/typo.yaml"][0] == "added, invalid"
    assert invalid["pipelines/typo.yaml"][1].startswith("pipelines/typo.yaml:5:")
    assert "missing required key 'table' (+1 more)" in invalid["pipelines/typo.yaml"][1]
    assert invalid["pipelines/fix_me.yaml"][0].startswith(
        "fixed (now valid): incremental shop_db.fixes -> warehouse.analytics.fixes"
    )
    assert "incremental loads need 'cursor'" in invalid["pipelines/fix_me.yaml"][1]
    assert report.unchanged == 0

    assert main(["diff"]) == 0
    text = capsys.readouterr().out
    assert "1 added, 1 removed, 1 renamed, 3 changed, 2 invalid, 0 unchanged" in text
    assert "removed  old_feed" in text and "analytics.feed is no longer loaded (not dropped)" in text
    assert "renamed  shop_products -> shop_catalogue" in text


def test_markdown_summary_for_a_pr_comment(repo, capsys):
    make_changes(repo)
    capsys.readouterr()
    assert main(["diff", "main", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### Pipelines: main (")
    assert "| change | pipeline | what it does in Airflow |" in md
    assert "| added | `shop_refunds` | new DAG: incremental shop_db.refunds \u2192 warehouse.analytics.refunds" in md
    assert "| removed | `old_feed` |" in md
    assert "| renamed | `shop_products` \u2192 `shop_catalogue` |" in md
    assert "| changed | `shop_orders` | schedule |" in md
    assert "| changed | `daily_sales_report` | tasks, checks |" in md
    assert "| **invalid** | `pipelines/typo.yaml` | added, invalid: `pipelines/typo.yaml:5:" in md
    assert "#### `shop_customers` (pipelines/shop_customers.yaml)" in md
    assert "- **load** - load type: snapshot \u2192 full_refresh" in md
    for line in md.splitlines():
        if line.startswith("| "):
            assert line.count(" | ") + 2 == 4 or line.startswith("|---"), line  # no stray pipes break the table


def test_invalid_at_the_base_and_now_invalid(repo, capsys):
    edit(repo / "pipelines" / "shop_orders.yaml", "cursor: updated_at", "cursr: updated_at")
    report = diff("main", Path("pipelines"))
    statuses = {path: status for path, status, _ in report.invalid}
    assert statuses == {"pipelines/shop_orders.yaml": "now invalid (was valid)"}
    assert report.still_invalid == ["pipelines/fix_me.yaml"]  # broken before, untouched: not this change
    assert report.changed == [] and report.removed == []  # a broken file is not reported as a removed pipeline


def test_same_name_moved_and_renamed_with_changes(repo):
    (repo / "pipelines" / "sales").mkdir()
    git(repo, "mv", "pipelines/shop_orders.yaml", "pipelines/sales/shop_orders.yaml")
    git(repo, "mv", "pipelines/shop_products.yaml", "pipelines/products.yaml")
    edit(repo / "pipelines" / "products.yaml", "name: shop_products", "name: products")
    edit(repo / "pipelines" / "products.yaml", "description: The", "description: Now the")
    report = diff("main", Path("pipelines"))
    moves = {(a.name, b.name): [c.text for c in cs] for a, b, cs in report.renamed}
    assert moves[("shop_orders", "shop_orders")] == []
    assert moves[("shop_products", "products")] == [  # paired by its target table
        "description: The product catalogue, replaced as a whole every day -> Now the product catalogue, replaced as a whole every day"
    ]
    assert not report.added and not report.removed


def test_defaults_at_the_ref_apply_to_the_ref(repo):
    edit(repo / "pipelines" / "_defaults.yaml", "owner: data-eng", "owner: analytics")
    report = diff("main", Path("pipelines"))
    changed = {f.name: [c.text for c in cs] for f, cs in report.changed}
    assert set(changed) == {"daily_sales_report", "shop_customers", "shop_orders", "shop_products", "old_feed"}
    assert all(texts == ["owner: data-eng -> analytics"] for texts in changed.values())
    assert report.other_files == [("pipelines/_defaults.yaml", "modified")]


def test_query_file_change_is_a_source_change(repo):
    with open(repo / "pipelines" / "sql" / "daily_sales.sql", "a") as fh:
        fh.write("having count(*) > 1\n")
    report = diff("main", Path("pipelines"))
    ((f, changes),) = report.changed
    assert f.name == "daily_sales_report"
    assert [c.text for c in changes] == ["source: the query text changed (15 -> 16 lines)"]
    assert report.other_files == [("pipelines/sql/daily_sales.sql", "modified")]


def test_default_base_is_the_merge_base_not_mains_tip(repo):
    git(repo, "checkout", "-q", "main")
    (repo / "pipelines" / "late_on_main.yaml").write_text(OLD_FEED.replace("old_feed", "late_on_main").replace("feed", "late"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main moved on")
    git(repo, "checkout", "-q", "feature")
    report = diff(None, Path("pipelines"))
    assert report.empty and report.unchanged == 5 and report.still_invalid == ["pipelines/fix_me.yaml"]
    assert diff("main", Path("pipelines")).removed[0].name == "late_on_main"  # an explicit ref is taken as given


def test_no_changes_and_usage_errors(repo, tmp_path_factory, capsys):
    assert main(["diff"]) == 0
    assert "no pipeline changes" in capsys.readouterr().out
    assert main(["diff", "no-such-ref"]) == 2
    assert "unknown git ref 'no-such-ref'" in capsys.readouterr().err
    elsewhere = tmp_path_factory.mktemp("not_git")
    (elsewhere / "pipelines").mkdir()
    os.chdir(elsewhere)
    assert main(["diff"]) == 2
    assert "not inside a git repository" in capsys.readouterr().err


def test_diff_never_imports_airflow(repo):
    make_changes(repo)
    code = textwrap.dedent(
        """
        import sys
        from dag_factory.cli import main
        assert main(["diff", "--format", "markdown"]) == 0
        leaked = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
        assert not leaked, leaked[:5]
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------- CI in a data repository


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_github_actions_example_lints_and_writes_a_job_summary(repo):
    import yaml

    workflow = yaml.safe_load((REPO / "docs" / "examples" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    runs = {s["name"]: s["run"] for s in steps if "run" in s}
    lint = next(r for n, r in runs.items() if n.startswith("Lint"))
    summary = next(r for n, r in runs.items() if "changes" in n)
    assert "--format github" in lint and "--format markdown" in summary and "GITHUB_STEP_SUMMARY" in summary
    assert next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))["with"]["fetch-depth"] == 0

    make_changes(repo)
    git(repo, "update-ref", "refs/remotes/origin/main", "main")  # what checkout with fetch-depth: 0 provides
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "GITHUB_BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(repo / "summary.md"),
    }
    linted = _bash(lint, repo, env)
    assert linted.returncode == 1  # typo.yaml is broken: the check fails ...
    assert "::error file=pipelines/typo.yaml,line=5," in linted.stdout  # ... with an annotation on its line
    assert _bash(summary, repo, env).returncode == 0
    md = (repo / "summary.md").read_text()
    assert md.startswith("### Pipelines: origin/main (") and "| added | `shop_refunds` |" in md
    assert "| **invalid** | `pipelines/typo.yaml` |" in md


def test_pre_commit_hook_definition(repo):
    import re

    import yaml

    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "dag-factory-lint" and hook["entry"] == "dag-factory lint" and hook["language"] == "python"
    files = re.compile(hook["files"])
    assert all(files.search(p) for p in ["pipelines/a.yaml", "pipelines/team/b.yml", "pipelines/_defaults.yaml"])
    assert not any(files.search(p) for p in ["pipelines/sql/x.sql", "dags/generate.py", "other/pipelines.yaml"])
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    (repo / "pipelines" / "fix_me.yaml").unlink()  # the fixture's broken file
    ok = _bash(hook["entry"], repo, env)  # pass_filenames: false -> the whole pipelines/ folder
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (repo / "pipelines" / "typo.yaml").write_text(TYPO)
    assert _bash(hook["entry"], repo, env).returncode == 1


def test_other_source_types_and_their_tasks(repo):
    """A file source that waits gets the builder's sensor task; http/file sources are described by endpoint/path."""
    (repo / "pipelines" / "partner_drop.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            name: partner_drop
            source: {type: file, conn_id: partner_drop, path: "exports/{{ ds }}/*.csv", format: csv}
            load: {mode: snapshot}
            target: {conn_id: warehouse, table: analytics.partner_drop}
            """
        )
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "file source")
    edit(repo / "pipelines" / "partner_drop.yaml", "format: csv}", "format: csv, wait: {timeout: 2h}}")
    edit(repo / "pipelines" / "partner_drop.yaml", "exports/", "drops/")
    ((f, changes),) = diff("HEAD", Path("pipelines")).changed
    texts = [c.text for c in changes]
    assert "source: file partner_drop: exports/{{ ds }}/*.csv -> file partner_drop: drops/{{ ds }}/*.csv" in texts
    assert "tasks: added extract.wait_for_files" in texts
    assert any(t.startswith("source.wait.timeout: (unset) -> ") for t in texts)
