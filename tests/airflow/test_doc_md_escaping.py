"""Issue 13.10: every YAML value put into a DAG's doc_md reads back verbatim in the rendered docs."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

from dag_factory.airflow.docs import doc_md
from dag_factory.config.loader import load_pipelines
from tests.config.helpers import write

DESCRIPTION = "Customers from _shop_db.customers_ via *raw* <b>bold</b> | piped ~~gone~~ [link](http://x) `tick`"
VALUES = [
    DESCRIPTION,
    "_team_a_",  # owner
    "_shop_db_",  # source connection
    "not null: _deleted_at_, a_b_c",  # a check's description
    "email ops_*team*@example.com",  # an alert
]


def _text(markdown: str) -> str:
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", rendered)).split())


def test_yaml_values_are_not_markdown(tmp_path):
    write(
        tmp_path / "pipelines/md_values.yaml",
        f"""
        version: 1
        name: md_values
        description: "{DESCRIPTION}"
        owner: _team_a_
        source: {{type: sql, conn_id: _shop_db_, table: customers}}
        load: {{mode: full_refresh}}
        target: {{conn_id: warehouse, table: analytics.customers_snapshot}}
        checks:
          - not_null: [_deleted_at_, a_b_c]
        alerts:
          on_failure: [{{email: ["ops_*team*@example.com"]}}]
        """,
    )
    result = load_pipelines(tmp_path / "pipelines")
    assert not result.errors, result.problems
    text = _text(doc_md(result.pipelines["md_values"]))
    for value in VALUES:
        assert value in text, f"{value!r} not shown verbatim in:\n{text}"
    assert "_shop_db_.customers" in text and "analytics.customers_snapshot" in text


def test_a_query_with_backtick_fences_stays_inside_its_code_block(tmp_path):
    query = "select 1 as x\\n```\\n</details>\\n# not a heading"
    write(
        tmp_path / "pipelines/md_query.yaml",
        f"""
        version: 1
        name: md_query
        source: {{type: sql, conn_id: shop_db, query: "{query}"}}
        load: {{mode: full_refresh}}
        target: {{conn_id: warehouse, table: analytics.q}}
        """,
    )
    result = load_pipelines(tmp_path / "pipelines")
    assert not result.errors, result.problems
    rendered = MarkdownIt("commonmark").render(doc_md(result.pipelines["md_query"]))
    assert "<h1>" not in rendered and "# not a heading" in html.unescape(rendered)
    assert rendered.count("</details>") == 1  # ours; the query's stays text inside <code>
    assert rendered.count("&lt;/details&gt;") == 2  # the source query block and the resolved config
