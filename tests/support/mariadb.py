"""A real, throwaway MariaDB server for the MySQL source tests: no mocks, no docker.

Uses DAG_FACTORY_TEST_MYSQL_DSN (mysql://user:password@host:port/) when set;
otherwise starts a private server from Debian's `mariadb-server` binaries
(`scripts/mariadb.sh` installs them): `mariadb-install-db` into a temp datadir,
`mariadbd` on 127.0.0.1:<free port> (as the `mysql` user when run as root), a test
user with a password created over the server's unix socket. Every wait is bounded;
the server is stopped and the datadir deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from dag_factory.engine.connections import ConnInfo

USER, PASSWORD = "dagf", "dagf-test-pw"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class MariaServer:
    host: str
    port: int
    user: str
    password: str

    def conninfo(self, database: str, conn_id: str = "src") -> ConnInfo:
        return ConnInfo(
            conn_id, "mysql", host=self.host, port=self.port, login=self.user, password=self.password, database=database
        )

    def connect(self, database: str | None = None, **kw):
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
            **kw,
        )

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        name = f"dagf_test_{uuid.uuid4().hex[:12]}"
        with self.connect() as db, db.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield name
        finally:
            with self.connect() as db, db.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str, *dirs: str) -> str:
    for d in dirs:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"MariaDB binary {name!r} not found: run scripts/mariadb.sh (apt-get install mariadb-server)")
    return found


@contextmanager
def mariadb_server() -> Iterator[MariaServer]:
    """Yield a running server; stop (and delete) a self-started one at the end."""
    dsn = os.environ.get("DAG_FACTORY_TEST_MYSQL_DSN")
    if dsn:
        u = urlsplit(dsn)
        yield MariaServer(u.hostname or "127.0.0.1", u.port or 3306, u.username or "root", u.password or "")
        return

    install_db = _binary("mariadb-install-db", "/usr/bin", "/usr/local/bin")
    mariadbd = _binary("mariadbd", "/usr/sbin", "/usr/local/sbin", "/usr/bin")
    as_root = os.geteuid() == 0
    tmp = tempfile.mkdtemp(prefix="dagf-maria-")
    data, sock, log = os.path.join(tmp, "data"), os.path.join(tmp, "mysqld.sock"), os.path.join(tmp, "server.log")
    user_args = ["--user=mysql"] if as_root else []
    if as_root:
        shutil.chown(tmp, "mysql", "mysql")
    subprocess.run(
        [
            install_db,
            "--no-defaults",
            f"--datadir={data}",
            *user_args,
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--log-error={log}",
            f"--pid-file={os.path.join(tmp, 'mysqld.pid')}",
            "--skip-name-resolve",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=64M",
            "--skip-log-bin",
            *user_args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_ready(sock, proc, log)
        import pymysql

        with pymysql.connect(unix_socket=sock, user="root", password="", autocommit=True) as db, db.cursor() as cur:
            cur.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'")
        yield MariaServer("127.0.0.1", port, USER, PASSWORD)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_ready(sock: str, proc: subprocess.Popen, log: str) -> None:
    import pymysql

    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {proc.returncode}:\n{_tail(log)}")
        if os.path.exists(sock):
            try:
                pymysql.connect(unix_socket=sock, user="root", password="", connect_timeout=2).close()
                return
            except pymysql.MySQLError as e:
                last = e
        time.sleep(0.1)
    raise RuntimeError(f"mariadbd not ready after {START_TIMEOUT:.0f}s ({last}):\n{_tail(log)}")


def _tail(path: str, n: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no server log)"
