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
            "('apache-airflow', 'pyarrow', 'duckdb', 'adbc-driver-postgresql', 'connectorx', 'psycopg', 'PyYAML', 'jsonschema')))",
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


def _tree_rss_kb(root: int) -> int:
    """Resident KB of `root` and all its descendants (Sling runs the DuckDB CLI, for example)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/statm") as f:
                pages = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 3600) -> dict:
    """Run `cmd` as a whole process: wall seconds, peak RSS of its process tree (sampled every
    20 ms, and never below the kernel's ru_maxrss of the largest process), stdout's last JSON line."""
    import time

    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
    peak_kb = 0
    status, ru = None, None
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak_kb = max(peak_kb, _tree_rss_kb(proc.pid))
        if time.perf_counter() - t0 > timeout:
            proc.kill()
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed (rc {proc.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    return {**result, "wall_s": wall, "peak_mb": max(peak_kb, ru.ru_maxrss) / 1024, "stdout": stdout}
