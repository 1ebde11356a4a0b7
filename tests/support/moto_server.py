"""A moto server (S3, Glue, Athena, ...) over HTTP on 127.0.0.1 for the AWS engine tests.

Server mode, not the in-process `mock_aws` decorator: boto3 talks real HTTP to the
endpoint, exactly as it would to AWS (signing, checksums, multipart uploads, copies).
Dummy credentials only; nothing leaves the loopback interface.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # never read a developer's ~/.aws by accident
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


_SESSIONS: dict[str, object] = {}


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    region: str = "us-east-1"

    def session(self):
        """A boto3 session with the dummy credentials (what the Airflow layer would hand the engine)."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=self.region,
        )

    def shared_session(self):
        """One session per server: its clients reuse the loaded service models (fast)."""
        if self.endpoint_url not in _SESSIONS:
            _SESSIONS[self.endpoint_url] = self.session()
        return _SESSIONS[self.endpoint_url]

    def client(self, service: str):
        return self.shared_session().client(service, endpoint_url=self.endpoint_url)

    def new_bucket(self, prefix: str = "lake") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(Bucket=name)
        return name

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """Start moto's ThreadedMotoServer on 127.0.0.1:<free port>; set dummy AWS env vars meanwhile."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request

    saved = {k: os.environ.get(k) for k in DUMMY_ENV}
    os.environ.update(DUMMY_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoServer(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fixture():
    import pytest

    @pytest.fixture(scope="session")
    def moto_aws() -> Iterator[MotoServer]:
        """Session-wide moto server; import this name into a test module to use it."""
        with moto_server() as server:
            yield server

    return moto_aws


moto_aws = _fixture()
