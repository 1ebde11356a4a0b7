"""`airflow standalone` as a managed process: its environment, start, readiness, login and a
stop that leaves nothing running. Used by `dag-factory demo --ui` (cli/ui.py) and by the
end-to-end tests (tests/support/airflow_server.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dag_factory.cli.demo_home import demo_environment

PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
LOG_FILE = "standalone.log"


class StandaloneError(RuntimeError):
    """Airflow standalone did not come up (the message carries the end of its log)."""


def venv_bin() -> Path:
    """The folder of this interpreter's scripts (the venv's bin/): standalone starts its
    components as plain `airflow ...` from PATH, and they must be this venv's."""
    return Path(sys.executable).parent  # not resolve(): a venv's python is a symlink out of the venv


def standalone_environment(
    home: Path,
    port: int,
    host: str = "127.0.0.1",
    pipelines: Path | None = None,
    base: Mapping[str, str] | None = None,
    log_server_ports: tuple[int, int] | None = None,
) -> dict[str, str]:
    """The complete environment for `airflow standalone` running the demo.

    `base` (default: os.environ) loses every AIRFLOW* and DAG_FACTORY_* variable, so a
    developer's own Airflow settings cannot leak in; connections are env variables
    (AIRFLOW_CONN_*), nothing is written to files. `log_server_ports` moves the
    scheduler's and triggerer's log servers off their fixed 8793/8794 (for a second
    Airflow on the same machine, e.g. in tests)."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW", "DAG_FACTORY_"))}
    env.update(demo_environment(home))
    if pipelines is not None:
        env["DAG_FACTORY_PIPELINES"] = str(pipelines)
    env.update(
        {
            "PATH": os.pathsep.join([str(venv_bin()), env.get("PATH", os.defpath)]),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor forks this many workers up front
            # workers report task state here; the default assumes :8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{port}/execution/",
            # the first runs start while the api-server still warms up; on a small, busy machine
            # the default 5 s timeout (and ~30 s of retries) fails tasks before they begin
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "8",
            # new or changed pipeline files show up within seconds instead of minutes
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # task logs in the UI show the pipelines' progress lines
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "DAG_FACTORY_ENV": "local",
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
    )
    if log_server_ports:
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(log_server_ports[0])
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(log_server_ports[1])
    return env


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that are free now (all held open until all are chosen)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_standalone(env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """`airflow standalone` in its own session (process group), output to `log_path`."""
    airflow = venv_bin() / "airflow"
    command = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*command, "standalone"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, not it; we stop the whole group ourselves
        )


def log_tail(log_path: Path, lines: int = 60) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return f"(no log at {log_path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until_ready(proc: subprocess.Popen, base_url: str, log_path: Path, timeout: float = 180) -> None:
    """Poll the API's health endpoint until every component reports healthy (bounded)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StandaloneError(
                f"airflow standalone exited with {proc.returncode} before it was ready; end of {log_path}:\n{log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as response:
                health = json.load(response)
            unhealthy = {k: v.get("status") for k, v in health.items() if isinstance(v, dict) and v.get("status") != "healthy"}
            if not unhealthy:
                return
            last = f"not healthy yet: {unhealthy}"
        except (OSError, ValueError) as exc:  # connection refused, timeouts, half-started server
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(2)
    raise StandaloneError(
        f"Airflow at {base_url} was not ready within {timeout:.0f}s ({last}); end of {log_path}:\n{log_tail(log_path)}"
    )


def read_password(airflow_home: Path, user: str = "admin", timeout: float = 30) -> str:
    """The password standalone generated for `user` (SimpleAuthManager's file)."""
    path = airflow_home / PASSWORD_FILE
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(path.read_text())[user]
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise StandaloneError(f"no password for {user!r} in {path}") from None
            time.sleep(1)


def api_token(base_url: str, password: str, user: str = "admin", timeout: float = 60) -> str:
    """A bearer token for the REST API (`POST /auth/token`), retried for `timeout` seconds."""
    body = json.dumps({"username": user, "password": password}).encode()
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(f"{base_url}/auth/token", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.load(response)["access_token"]
        except (OSError, ValueError, KeyError) as exc:
            if time.monotonic() > deadline:
                raise StandaloneError(f"POST {base_url}/auth/token kept failing: {exc}") from None
            time.sleep(2)


def create_pools(base_url: str, token: str, pipelines: Path, env: str = "local", slots: int = 1) -> list[str]:
    """Create (or reset to `slots`) the publish pool of every target connection of the
    pipelines in `pipelines` for `env` (dag_factory/airflow/pools.py): Airflow never
    schedules a task whose pool does not exist. One slot suits the demo's DuckDB file."""
    from dag_factory.airflow.pools import publish_pools
    from dag_factory.config.loader import load_pipelines

    pools = publish_pools(load_pipelines(pipelines, env=env).pipelines.values())
    entities = [{"name": name, "slots": slots, "description": text} for name, text in pools.items()]
    body = {"actions": [{"action": "create", "entities": entities, "action_on_existence": "overwrite"}]}
    for attempt in range(1, 6):
        request = urllib.request.Request(f"{base_url}/api/v2/pools", data=json.dumps(body).encode(), method="PATCH")
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result = json.load(response).get("create") or {}
            break
        except urllib.error.HTTPError as exc:  # SQLite busy on a loaded machine: the api-server answers 500
            if exc.code < 500 or attempt == 5:
                raise
            time.sleep(3 * attempt)  # bounded: at most five tries, 30 s of waiting
    if result.get("errors"):
        raise StandaloneError(f"could not create the pools {sorted(pools)}: {result['errors']}")
    return sorted(pools)


def unpause_all(base_url: str, token: str) -> list[str]:
    """Unpause every paused DAG already known to the metadata DB (DAGs first seen by
    standalone are created unpaused; those from an earlier `./demo.sh` are paused)."""
    query = urllib.parse.urlencode({"dag_id_pattern": "~", "paused": "true", "limit": 100})
    request = urllib.request.Request(
        f"{base_url}/api/v2/dags?{query}", data=json.dumps({"is_paused": False}).encode(), method="PATCH"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return [d["dag_id"] for d in json.load(response)["dags"]]


def _descendants(pid: int) -> list[Any]:
    try:
        import psutil
    except ImportError:  # optional: the process group still catches them
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:  # the process is gone already
        return []


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the group: an orphaned zombie
    stays until init reaps it, which not every container's init does."""
    try:
        import psutil
    except ImportError:
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_standalone(proc: subprocess.Popen, grace: float = 30) -> None:
    """Stop standalone and everything it started (api-server, scheduler, dag-processor,
    triggerer, their workers and log servers): SIGINT to standalone and SIGTERM to each
    descendant (each shuts down cleanly), then SIGKILL to the process group and every
    remembered descendant still there. Every wait is bounded; nothing is left running."""
    pgid = proc.pid  # start_new_session: the group id is standalone's pid
    children = _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        if sig == signal.SIGKILL:
            signal_group(pgid, sig)
        for child in children:
            if _is_running(child):
                try:
                    child.send_signal(sig)
                except _process_gone():  # gone meanwhile
                    pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap standalone itself so the group can empty
            if proc.returncode is not None and not _group_alive(pgid) and not any(_is_running(c) for c in children):
                return
            time.sleep(0.2)


def _process_gone() -> tuple[type[BaseException], ...]:
    """psutil's errors (its processes are the only ones we hold), or none without psutil."""
    try:
        import psutil
    except ImportError:
        return ()
    return (psutil.Error,)


def _is_running(process: Any) -> bool:
    try:
        return bool(process.is_running() and process.status() != "zombie")
    except _process_gone():
        return False
