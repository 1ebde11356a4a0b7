"""Airflow as a small cluster on one machine with a PostgreSQL metadata DB: CeleryExecutor
for the Celery end-to-end test, LocalExecutor for tests that need an Airflow of their own
(the backfill test: isolated from the shared `airflow standalone` and its SQLite DB).

api-server, scheduler, dag-processor, triggerer and N Celery workers run as separate
processes (each its own process group), each with its own AIRFLOW_HOME and working
directory, as if each had its own machine: they share only the DAG bundle folder and the
PostgreSQL metadata DB, and talk over the network (Redis broker, the api-server's execution
API). Every component gets the same secrets (JWT, api secret, Fernet), which a real
deployment distributes through its config too; without the shared JWT secret the workers'
task tokens are refused by the api-server. Under LocalExecutor there are no workers: the
scheduler runs the tasks, and it and the api-server share one task log folder (TASK_LOGS).

Every wait is bounded and names what it waited for plus the ends of the component logs;
every process group is stopped at the end, also when start-up fails.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dag_factory.cli import standalone
from tests.support.airflow_server import REPO, AirflowServer, ApiError

CONTROL_PLANE = ("api-server", "scheduler", "dag-processor", "triggerer")
CELERY, LOCAL = "CeleryExecutor", "LocalExecutor"
TASK_LOGS = "task-logs"  # under the cluster root: LocalExecutor's task logs (scheduler writes, api-server reads)
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


@dataclass
class Component:
    name: str
    home: Path  # its working directory; AIRFLOW_HOME is home/airflow
    command: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    def start(self) -> None:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.home,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    server: AirflowServer  # the REST client (api-server of the cluster)
    components: dict[str, Component] = field(default_factory=dict)
    root: Path | None = None

    @property
    def workers(self) -> list[Component]:
        return [c for c in self.components.values() if c.name not in CONTROL_PLANE]

    def task_log_folders(self) -> list[Path]:
        """Where task logs are written: each Celery worker's home, or TASK_LOGS (LocalExecutor)."""
        folders = [w.airflow_home / "logs" for w in self.workers]
        return folders or ([self.root / TASK_LOGS] if self.root else [])

    def log_tails(self, lines: int = 25) -> str:
        """The end of every component's log, and of the latest task logs."""
        out = []
        for c in self.components.values():
            out.append(f"--- {c.log_path} ({'running' if c.alive() else f'exited {c.proc and c.proc.returncode}'}):")
            out.append(_short(standalone.log_tail(c.log_path, lines)))
        for folder in self.task_log_folders():
            for task_log in sorted(folder.rglob("*.log"))[-6:]:
                out.append(f"--- task log {task_log}:\n{_short(standalone.log_tail(task_log, 8))}")
        return "\n".join(out)

    def wait_for(self, what: str, probe: Callable[[], tuple[bool, Any]], timeout: float) -> Any:
        """Call `probe` (-> (done, detail)) every 2 s until done, returning the detail; fail at
        once when a component exits (a crashed scheduler), and after `timeout` seconds."""
        return _wait(self, what, probe, timeout)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """Wait for a DAG run to end; assert it succeeded (else its task report and the log tails)."""
        server = self.server

        def probe():
            run = server.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run["state"] in ("success", "failed"), run

        run = self.wait_for(f"run {dag_id}/{run_id} to finish", probe, timeout)
        assert run["state"] == "success", (
            f"{dag_id}/{run_id} ended {run['state']}\n{server.run_report(dag_id, run_id)}\n{self.log_tails()}"
        )
        return run


def _short(text: str, width: int = 300) -> str:
    return "\n".join(line[:width] for line in text.splitlines())


def cluster_environment(
    metadata_url: str,
    broker_url: str | None,
    bundle: Path,
    api_port: int,
    extra: Mapping[str, str],
    executor: str = CELERY,
    task_logs: Path | None = None,
) -> dict[str, str]:
    """What every component's environment has in common (no AIRFLOW_HOME: each its own).
    CeleryExecutor needs `broker_url`; LocalExecutor needs `task_logs`, the folder the
    scheduler (which runs the tasks) and the api-server (which shows their logs) share."""
    assert executor in (CELERY, LOCAL), executor
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DAG_FACTORY_"))}
    fernet = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    if executor == CELERY:
        assert broker_url, "CeleryExecutor needs a broker"
        executor_env = {
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        }
    else:
        assert task_logs is not None, "LocalExecutor needs the shared task log folder"
        executor_env = {
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(task_logs),
            "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor forks this many workers up front (default 32)
        }
    env.update(
        {
            "PATH": os.pathsep.join([str(standalone.venv_bin()), env.get("PATH", os.defpath)]),
            "PYTHONPATH": str(REPO),  # for tests.support.worker_hostname
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,  # psycopg 3 does both (asyncpg is not installed)
            **executor_env,
            "AIRFLOW__CORE__DAGS_FOLDER": str(bundle),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # runs come from REST only: no "latest interval" runs of unpaused DAGs, no asset-triggered ones
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__FERNET_KEY": fernet,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "8",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.support.worker_hostname.hostname",
        }
    )
    env.update(extra)
    return env


def _airflow() -> list[str]:
    airflow = standalone.venv_bin() / "airflow"
    return [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]


def _components(root: Path, env: dict[str, str], workers: tuple[str, ...], concurrency: int) -> dict[str, Component]:
    ports = iter(standalone.free_ports(len(CONTROL_PLANE) + len(workers) + 1))
    out: dict[str, Component] = {}
    commands = {
        "api-server": ["api-server"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer"],
    }
    for name in workers:
        # --skip-serve-logs: log servers of two workers on one machine would need one port each,
        # and the api-server reads every worker's logs on one configured port
        commands[name] = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(concurrency)]
        commands[name] += ["--skip-serve-logs"]
    for name, args in commands.items():
        home = root / name
        component_env = dict(env)
        component_env.update(
            {
                "AIRFLOW_HOME": str(home / "airflow"),
                "DAG_FACTORY_STAGING": str(home / "staging"),  # must stay unused: every pipeline has a lake
                "DAG_FACTORY_TEST_HOSTNAME": name,
                # free ports, so nothing collides with a developer's Airflow or a parallel test
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(next(ports)),
            }
        )
        if name == "triggerer":
            component_env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(next(ports))
        out[name] = Component(name, home, [*_airflow(), *args], component_env)
    return out


def migrate(root: Path, env: dict[str, str], timeout: float = 300) -> None:
    home = root / "migrate"
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [*_airflow(), "db", "migrate"],
        cwd=home,
        env={**env, "AIRFLOW_HOME": str(home / "airflow")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"airflow db migrate failed ({result.returncode}):\n{_short(result.stdout[-3000:] + result.stderr[-3000:])}"
    )


def _wait(cluster: Cluster, what: str, probe: Callable[[], tuple[bool, Any]], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = "never probed"
    while True:
        dead = [c.name for c in cluster.components.values() if not c.alive()]
        if dead:
            raise AssertionError(f"{', '.join(dead)} exited while waiting for {what}\n{cluster.log_tails()}")
        try:
            done, last = probe()
        except (OSError, ValueError, ApiError) as exc:  # a busy api-server on a small machine: try again
            done, last = False, f"{type(exc).__name__}: {exc}"
        if done:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last}\n{cluster.log_tails()}")
        time.sleep(2)


def _healthy(base_url: str):
    import json

    with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as response:
        health = json.load(response)
    states = {k: (health.get(k) or {}).get("status") for k in HEALTH_KEYS}
    return all(s == "healthy" for s in states.values()), states


def _worker_ready(worker: Component):
    # celery prints "<name>@<host> ready." once it consumes from the broker
    text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
    return re.search(rf"{re.escape(worker.name)}@\S+ ready\.", text) is not None, f"{worker.name}: not ready"


def _stop_all(components: list[Component]) -> None:
    """Stop every component at once (each group bounded by standalone.stop_standalone's grace)."""
    threads = [
        threading.Thread(target=standalone.stop_standalone, args=(c.proc,), kwargs={"grace": 10}) for c in components if c.proc
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)


@contextmanager
def airflow_cluster(
    root: Path,
    bundle: Path,
    metadata_url: str,
    broker_url: str | None,
    extra_env: Mapping[str, str],
    workers: tuple[str, ...] = ("worker-a", "worker-b"),
    concurrency: int = 2,
    timeout: float = 240,
    executor: str = CELERY,
) -> Iterator[Cluster]:
    """Migrate the metadata DB, start every component, wait until the api-server reports
    all healthy and every worker consumes from the broker; yield a Cluster; stop it all.
    With executor=LOCAL: no broker and no workers (pass broker_url=None, workers=())."""
    if executor == CELERY:
        assert find_spec("airflow.providers.celery"), "apache-airflow-providers-celery is missing: run scripts/setup.sh"
    else:
        assert not workers and broker_url is None, "LocalExecutor: the scheduler runs the tasks; no workers, no broker"
    api_port = standalone.free_ports(1)[0]
    base_url = f"http://127.0.0.1:{api_port}"
    env = cluster_environment(
        metadata_url, broker_url, bundle, api_port, extra_env, executor, task_logs=root / TASK_LOGS if executor == LOCAL else None
    )
    started = time.monotonic()
    migrate(root, env)
    migrated = time.monotonic()
    components = _components(root, env, workers, concurrency)
    with ExitStack() as stack:
        stack.callback(_stop_all, list(components.values()))
        for c in components.values():
            c.start()
        api = components["api-server"]
        server = AirflowServer(base_url, "", "", root, api.airflow_home, bundle / "pipelines", components["scheduler"].log_path)
        cluster = Cluster(server, components, root)
        _wait(cluster, "every component healthy", lambda: _healthy(base_url), timeout)
        for w in cluster.workers:
            _wait(cluster, f"Celery worker {w.name} ready", lambda w=w: _worker_ready(w), timeout)
        server.password = standalone.read_password(api.airflow_home)
        server.token = standalone.api_token(base_url, server.password)
        print(
            f"\nAirflow cluster ready at {base_url}: migrated in {migrated - started:.0f}s, "
            f"components up {time.monotonic() - migrated:.0f}s later ({', '.join(components)}; homes under {root})"
        )
        yield cluster
