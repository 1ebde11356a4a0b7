"""Lint and the config layer work on a machine without Airflow: they must never import it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.config.helpers import REPO

CHECK = textwrap.dedent(
    """
    import sys
    {body}
    leaked = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
    assert not leaked, leaked[:10]
    print("OK")
    """
)


def _run(body: str) -> subprocess.CompletedProcess:
    code = CHECK.format(body=textwrap.dedent(body).strip())
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            """
            from dag_factory.cli import main
            rc = main(["lint", "pipelines"])
            assert rc == 0, rc
            """,
            id="lint-pipelines",
        ),
        pytest.param(
            """
            from dag_factory.cli import main
            rc = main(["lint", "--format", "github", "tests/config/cases/broken"])
            assert rc == 1, rc
            """,
            id="lint-broken-cases",
        ),
        pytest.param("import dag_factory.config.loader", id="import-loader"),
        pytest.param(
            """
            from pathlib import Path
            from dag_factory.config.loader import load_pipelines
            from dag_factory.config.schedules import interval_for_date
            from datetime import date
            result = load_pipelines(Path("pipelines"))
            assert len(result.pipelines) == 4 and not result.errors, result.problems
            p = result.pipelines["shop_orders"]
            interval_for_date(p.schedule, p.timezone, date(2024, 3, 5))
            """,
            id="load-and-schedule",
        ),
    ],
)
def test_config_layer_does_not_import_airflow(body: str):
    proc = _run(body)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_the_check_would_notice_airflow():
    # guard: the probe really detects a module named airflow (a stand-in keeps this fast)
    proc = _run("import types; sys.modules['airflow.models'] = types.ModuleType('airflow.models')")
    assert proc.returncode != 0
    assert "AssertionError" in proc.stderr
