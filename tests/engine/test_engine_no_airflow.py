"""The engine runs without Airflow (`dag-factory run`, other orchestrators): importing every
module under dag_factory/engine/, and the config layer with it, must not import Airflow.
A subprocess, so that nothing this test session imported earlier can hide a leak."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHECK = """
import importlib, pkgutil, sys
import dag_factory.config, dag_factory.engine
names = []
for package in (dag_factory.config, dag_factory.engine):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
leaked = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
assert not leaked, leaked[:10]
print(len(names), "modules:", " ".join(names))
"""


def test_importing_every_engine_module_imports_no_airflow():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    imported = out.stdout.split("modules:", 1)[1].split()
    on_disk = {
        ".".join(p.relative_to(REPO).with_suffix("").parts)
        for p in (REPO / "dag_factory" / "engine").rglob("*.py")
        if p.name != "__init__.py"
    }
    assert on_disk and on_disk <= set(imported), sorted(on_disk - set(imported))  # every module really imported
