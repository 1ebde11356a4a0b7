"""`dag-factory docs`: every example pipeline has a page, the index's lineage graph names every
`after:` edge, sources, lake paths and tables; invalid files are listed, hand-written files kept."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dag_factory.cli import main
from dag_factory.cli.catalog import MARKER
from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]


def _mermaid(text: str) -> str:
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
    assert blocks, "no mermaid block"
    return blocks[0]


def _labels(graph: str) -> dict[str, str]:
    """node id -> label, for every node declared in a flowchart."""
    return dict(re.findall(r'^\s+(\w+)[\[\(\{/]+"([^"]*)"', graph, flags=re.M))


def test_catalog_of_the_examples(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    out = tmp_path / "catalog"
    assert main(["docs", "--out", str(out)]) == 0, capsys.readouterr().err
    pipelines = load_pipelines(REPO / "pipelines").pipelines
    assert len(pipelines) >= 4
    index = (out / "index.md").read_text()
    assert sorted(p.name for p in out.glob("*.md")) == sorted(["index.md", *(f"{n}.md" for n in pipelines)])
    graph = _mermaid(index)
    assert graph.startswith("flowchart LR\n")
    labels = _labels(graph)
    edges = [e.strip() for e in graph.splitlines() if "-->" in e or ".->" in e]
    after_edges = {e for e in edges if " -. after .-> " in e}
    expected = {f"p_{u} -. after .-> p_{name}" for name, p in pipelines.items() for u in p.after}
    assert expected and after_edges == expected  # every after: edge, and only those
    for name, p in pipelines.items():
        assert f"[{name}]({name}.md)" in index
        assert labels[f"p_{name}"] == name
        assert f"{p.target.conn_id}: {p.target.table}" in labels.values()
        if p.lake:
            assert f"{p.lake.conn_id}: {p.lake.path}" in labels.values()
        if p.source.table:
            assert f"{p.source.conn_id}: {p.source.table}" in labels.values()
        page = (out / f"{name}.md").read_text()
        assert page.startswith(MARKER) and f"# {name}\n" in page
        assert all(f"`{t}`" in page for t in _task_ids(p))
        assert (p.description or "(no description)") in page
        for upstream in p.after:
            assert f"[{upstream}]({upstream}.md)" in page  # upstream link on the page
            assert f"[{name}]({name}.md)" in (out / f"{upstream}.md").read_text()  # downstream link back
            assert f"p_{upstream} -. after .-> p_{name}" in _mermaid(page)
    # every edge joins declared nodes
    for edge in edges:
        ends = re.findall(r"\b(p_\w+|n\d+)\b", edge)
        assert len(ends) == 2 and all(e in labels for e in ends), edge
    sales = (out / "daily_sales_report.md").read_text()
    assert "```sql" in sales and "analytics.orders" in sales  # the query file's SQL
    assert "read by query" in index  # the transform's tables


def _task_ids(p) -> list[str]:
    from dag_factory.config.describe import task_ids

    return task_ids(p)


def test_rerun_replaces_its_pages_keeps_other_files_and_lists_invalid_ones(tmp_path, monkeypatch, capsys):
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    assert main(["docs"]) == 0
    out = tmp_path / "docs" / "catalog"
    assert (out / "shop_products.md").exists()
    (out / "README.md").write_text("hand-written\n")
    (tmp_path / "pipelines" / "shop_products.yaml").unlink()
    (tmp_path / "pipelines" / "broken.yaml").write_text("version: 1\nname: broken\n")
    assert main(["docs"]) == 0
    assert not (out / "shop_products.md").exists()  # its pipeline is gone
    assert (out / "README.md").read_text() == "hand-written\n"
    index = (out / "index.md").read_text()
    assert "## Invalid files" in index and "pipelines/broken.yaml" in index and "missing required key" in index
    (out / "shop_orders.md").write_text("mine\n")  # a hand-written page with a pipeline's name is not overwritten
    assert main(["docs"]) == 1
    assert "not written by dag-factory docs" in capsys.readouterr().err


def test_docs_without_a_pipelines_folder_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["docs"]) == 2
    assert "no pipelines folder" in capsys.readouterr().err


@pytest.mark.parametrize("label", ['a "quoted" name'])
def test_mermaid_labels_are_escaped(label):
    from dag_factory.cli.catalog import _Graph

    g = _Graph()
    g.node("x", label, "table")
    assert "#quot;quoted#quot;" in g.render()


@pytest.mark.airflow
def test_task_ids_computed_without_airflow_match_the_built_dags(tmp_path):
    """diff and docs name tasks without importing Airflow; they must be the builder's ids."""
    from dag_factory.airflow.generate import generate_dags
    from dag_factory.config.describe import task_ids

    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    (tmp_path / "pipelines" / "partner_drop.yaml").write_text(
        "version: 1\nname: partner_drop\n"
        'source: {type: file, conn_id: partner_drop, path: "x/{{ ds }}/*.csv", format: csv, wait: {timeout: 2h}}\n'
        "load: {mode: snapshot}\ntarget: {conn_id: warehouse, table: analytics.partner_drop}\n"
    )
    ns: dict = {}
    generate_dags(ns, str(tmp_path / "pipelines"))
    result = load_pipelines(tmp_path / "pipelines")
    assert not result.errors, result.problems
    assert "extract.wait_for_files" in task_ids(result.pipelines["partner_drop"])
    for name, p in result.pipelines.items():
        assert sorted(task_ids(p)) == sorted(ns[name].task_ids), name
