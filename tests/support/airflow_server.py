"""A real Airflow for end-to-end tests: `airflow standalone` (scheduler, dag-processor,
triggerer, api-server; SQLite metadata DB, LocalExecutor) started exactly like
`dag-factory demo --ui` does, in a temporary home on a free 127.0.0.1 port, over a
COPY of the repository's pipelines/ (tests may drop files into it).

Every wait is bounded; a timeout names what was awaited, the last thing seen and
the end of the standalone log. The process group is stopped even when start-up fails.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dag_factory.cli import demo_home, standalone

REPO = Path(__file__).resolve().parents[2]
TERMINAL_RUN_STATES = {"success", "failed"}


class ApiError(AssertionError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AirflowServer:
    base_url: str
    token: str
    password: str
    home: Path  # the demo home: shop.db, warehouse.duckdb, lake/, airflow/
    airflow_home: Path
    pipelines: Path  # the copy the DAG file reads
    log_path: Path

    # -- plumbing ------------------------------------------------------------------
    def log_tail(self, lines: int = 40, width: int = 400) -> str:
        tail = "\n".join(line[:width] for line in standalone.log_tail(self.log_path, lines).splitlines())
        return f"--- end of {self.log_path}:\n{tail}"

    def request(self, method: str, path: str, body: Any = None, params: dict | None = None, timeout: float = 30) -> Any:
        url = self.base_url + path + (("?" + urllib.parse.urlencode(params, doseq=True)) if params else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise ApiError(
                exc.code, f"{method} {path} -> HTTP {exc.code}: {self._explain(exc.read().decode(errors='replace'))}"
            ) from None
        return json.loads(text) if text else None

    def _explain(self, body: str) -> str:
        """An api-server 500 names an error ID; add the log lines around it."""
        found = re.search(r"look for ID (\w+)", body)
        if not found:
            return body[:2000]
        lines = standalone.log_tail(self.log_path, 5000).splitlines()
        hits = [i for i, line in enumerate(lines) if found.group(1) in line]
        context = "\n".join(line[:400] for line in lines[max(0, hits[0] - 5) : hits[0] + 40]) if hits else "(not in the log)"
        return f"{body[:1000]}\n--- api-server log around {found.group(1)}:\n{context}"

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def wait_for(self, what: str, probe: Callable[[], tuple[bool, Any]], timeout: float, interval: float = 3) -> Any:
        """Call `probe` (-> (done, detail)) until done or `timeout` seconds; returns the detail."""
        deadline = time.monotonic() + timeout
        detail: Any = "never probed"
        while True:
            try:
                done, detail = probe()
            except (OSError, ApiError) as exc:  # a busy api-server on a small machine: try again
                done, detail = False, f"{type(exc).__name__}: {exc}"
            if done:
                return detail
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {detail}\n{self.log_tail()}")
            time.sleep(interval)

    # -- Airflow things --------------------------------------------------------------
    def dags(self) -> dict[str, dict]:
        return {d["dag_id"]: d for d in self.get("/api/v2/dags", limit=100)["dags"]}

    def import_errors(self) -> list[dict]:
        return self.get("/api/v2/importErrors")["import_errors"]

    def trigger(self, dag_id: str, run_id: str, logical_date: str | None, attempts: int = 5) -> dict:
        """POST a DAG run. SQLite (standalone's metadata DB) can be busy under load and
        the api-server then answers 500: retry a few times; a 409 after such a retry
        means the earlier attempt did create the run."""
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": {}}
        for attempt in range(1, attempts + 1):
            try:
                return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
            except ApiError as exc:
                if exc.status == 409 and attempt > 1:
                    return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
                if exc.status < 500 or attempt == attempts:
                    raise
                print(f"trigger {dag_id}/{run_id}: attempt {attempt} failed, retrying: {str(exc)[:300]}")
                time.sleep(3 * attempt)
        raise AssertionError("unreachable")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        def probe():
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run["state"] in TERMINAL_RUN_STATES, run

        run = self.wait_for(f"run {dag_id}/{run_id} to finish", probe, timeout)
        assert run["state"] == "success", f"run {dag_id}/{run_id} ended {run['state']}\n{self.run_report(dag_id, run_id)}"
        return run

    def run_report(self, dag_id: str, run_id: str) -> str:
        """Task states of a run, and the end of each failed task's log."""
        lines = []
        try:
            tis = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
            for ti in tis:
                lines.append(f"  {ti['task_id']}: {ti['state']} (try {ti.get('try_number')})")
                if ti["state"] in ("failed", "up_for_retry", "upstream_failed") and ti.get("try_number"):
                    task = urllib.parse.quote(ti["task_id"])
                    log = self.request(
                        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task}/logs/{ti['try_number']}"
                    )
                    lines += ["    " + line for line in _log_errors(log)]
        except Exception as exc:  # the report is best effort; the assertion message matters more
            lines.append(f"  (could not read task instances: {exc})")
        return "\n".join(lines) + "\n" + self.log_tail(40)

    def active_runs(self) -> list[dict]:
        runs = self.get("/api/v2/dags/~/dagRuns", state=["queued", "running"], limit=100)["dag_runs"]
        return [{"dag_id": r["dag_id"], "run_id": r["dag_run_id"], "state": r["state"]} for r in runs]

    def wait_until_idle(self, timeout: float = 300, settle: float = 10) -> None:
        """No DAG run queued or running for `settle` seconds (a finished run can trigger
        an asset-scheduled one a moment later), e.g. before reading the warehouse."""
        idle_since: list[float] = []

        def probe():
            active = self.active_runs()
            if active:
                idle_since.clear()
                return False, active
            idle_since[:] = idle_since or [time.monotonic()]
            return time.monotonic() - idle_since[0] >= settle, "idle"

        self.wait_for("all DAG runs to finish", probe, timeout, interval=2)


def _log_errors(log: Any, limit: int = 12) -> list[str]:
    """The error lines of a task log from the REST API (structured events), short."""
    content = log.get("content") if isinstance(log, dict) else log
    if not isinstance(content, list):
        return [str(content)[-2000:]]
    found = []
    for event in content:
        if not isinstance(event, dict):
            continue
        details = [d.get("exc_value", "") for d in event.get("error_detail") or [] if isinstance(d, dict)]
        if event.get("level") in ("error", "critical") or details:
            found.append(" | ".join([str(event.get("event", ""))] + details)[:1000])
    return found[-limit:] or ["(no error lines in the task log)"]


@contextmanager
def airflow_standalone(root: Path, days: int = 3, timeout: float = 180) -> Iterator[AirflowServer]:
    """Start the demo's standalone Airflow under `root`; yield an AirflowServer; stop it."""
    home = root / "demo"
    pipelines = root / "pipelines"
    shutil.copytree(REPO / "pipelines", pipelines)
    demo_home.seed(home, days, fresh=True)
    port, worker_logs, trigger_logs = standalone.free_ports(3)
    base_url = f"http://127.0.0.1:{port}"
    # every port free, so a developer's `./demo.sh --ui` (8080, 8793, 8794) can keep running
    env = standalone.standalone_environment(home, port, pipelines=pipelines, log_server_ports=(worker_logs, trigger_logs))
    airflow_home = Path(env["AIRFLOW_HOME"])
    log_path = airflow_home / standalone.LOG_FILE
    started = time.monotonic()
    proc = standalone.start_standalone(env, log_path)
    try:
        try:
            standalone.wait_until_ready(proc, base_url, log_path, timeout=timeout)
        except standalone.StandaloneError as exc:
            raise AssertionError(str(exc)) from None
        password = standalone.read_password(airflow_home)
        token = standalone.api_token(base_url, password)
        standalone.create_pools(base_url, token, pipelines, env["DAG_FACTORY_ENV"])  # else no publish task is ever scheduled
        server = AirflowServer(base_url, token, password, home, airflow_home, pipelines, log_path)
        print(f"\nAirflow standalone ready at {base_url} after {time.monotonic() - started:.0f}s (log: {log_path})")
        yield server
    finally:
        standalone.stop_standalone(proc)
