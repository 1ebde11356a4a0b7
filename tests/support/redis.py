"""A real, throwaway Redis server (Debian's redis-server, see scripts/redis.sh) on
127.0.0.1:<free port>, for the Celery broker in the end-to-end tests: no persistence,
its own temporary folder, stopped (and the folder deleted) at the end."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    log_path: Path

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def ping(self, timeout: float = 2) -> bool:
        """A PING in Redis's wire protocol (no client library needed)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if not found:
        raise RuntimeError("redis-server not found: run scripts/redis.sh (installs Debian's redis-server)")
    return found


@contextmanager
def redis_server(timeout: float = 30) -> Iterator[RedisServer]:
    """Yield a running Redis on a free port; stop it at the end, even if start-up failed."""
    tmp = Path(tempfile.mkdtemp(prefix="dagf-redis-"))
    server = RedisServer("127.0.0.1", _free_port(), tmp / "redis.log")
    command = [
        _binary(),
        "--bind", server.host,
        "--port", str(server.port),
        "--dir", str(tmp),
        "--logfile", str(server.log_path),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not server.ping():
            if proc.poll() is not None or time.monotonic() > deadline:
                log = server.log_path.read_text(errors="replace")[-2000:] if server.log_path.exists() else "(no log)"
                raise RuntimeError(f"redis-server on port {server.port} did not answer PING (exit {proc.poll()}):\n{log}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
