"""Shared helpers of the benchmark scripts: venvs, child processes, machine facts, tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
OURS_PY = REPO / ".venv" / "bin" / "python"
PEER_PY = REPO / ".venv-peer" / "bin" / "python"


def need_peer() -> None:
    if not PEER_PY.exists():
        raise SystemExit("the peer venv is missing: run benchmarks/setup_peer.sh first")


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """A child environment with a private AIRFLOW_HOME; no examples, no telemetry, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "DAG_FACTORY"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",  # astronomer dag-factory: no network calls
            "DO_NOT_TRACK": "1",
            "SCARF_NO_ANALYTICS": "true",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # DAG files are imported with their .pyc, as Airflow does
    env.update(extra)
    return env


def run_child(python: Path, args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 900) -> dict:
    """Run a benchmark child; it prints one JSON object as its last stdout line."""
    proc = subprocess.run([str(python), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """min-max of the repeats, for the reader to judge the noise."""
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else "-"


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def machine_info() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = subprocess.run(
        [
            str(OURS_PY),
            "-c",
            "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('apache-airflow', 'pyarrow', 'duckdb', 'psycopg', 'PyYAML', 'jsonschema')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))})",
        "ram": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "versions": versions,
    }


def print_machine() -> None:
    for k, v in machine_info().items():
        print(f"{k}: {v}")
    print()


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (pastes into benchmarks/README.md as is)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join(out)
