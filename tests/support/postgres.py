"""A real, throwaway PostgreSQL server for tests: no mocks, no docker.

Uses DAG_FACTORY_TEST_PG_DSN when set (the role needs CREATEDB); otherwise
starts a private cluster from the Debian binaries on 127.0.0.1:<free port>.
PostgreSQL refuses to run as root, so as root the server runs as `postgres`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from dag_factory.engine.connections import ConnInfo


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str | None
    admin_db: str

    def conninfo(self, database: str, conn_id: str = "pg") -> ConnInfo:
        return ConnInfo(
            conn_id=conn_id,
            kind="postgres",
            host=self.host,
            port=self.port,
            login=self.user,
            password=self.password,
            database=database,
        )

    def connect(self, database: str | None = None, **kw) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.admin_db,
            **kw,
        )

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database, dropped afterwards."""
        name = f"dagf_test_{uuid.uuid4().hex[:12]}"
        with self.connect(autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield name
        finally:
            with self.connect(autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        path = shutil.which(name)
        if path:
            return path
        raise RuntimeError(f"PostgreSQL binary {name!r} not found; set DAG_FACTORY_TEST_PG_DSN")
    return found[-1]  # newest major version


@contextmanager
def postgres_server() -> Iterator[PgServer]:
    """Yield a running server; stop (and delete) a self-started one at the end."""
    dsn = os.environ.get("DAG_FACTORY_TEST_PG_DSN")
    if dsn:
        d = conninfo_to_dict(dsn)
        yield PgServer(
            host=d.get("host", "127.0.0.1"),
            port=int(d.get("port", 5432)),
            user=d.get("user", "postgres"),
            password=d.get("password"),
            admin_db=d.get("dbname", "postgres"),
        )
        return

    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = tempfile.mkdtemp(prefix="dagf-pg-")
    data = os.path.join(tmp, "data")
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
    port = _free_port()
    user = "postgres"
    log = os.path.join(tmp, "server.log")
    subprocess.run(
        [*prefix, _pg_bin("initdb"), "-D", data, "-U", user, "-A", "trust", "--no-sync", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    opts = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=50"
    )
    subprocess.run(
        [*prefix, _pg_bin("pg_ctl"), "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield PgServer(host="127.0.0.1", port=port, user=user, password=None, admin_db="postgres")
    finally:
        subprocess.run(
            [*prefix, _pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)
