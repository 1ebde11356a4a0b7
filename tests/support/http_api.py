"""A small JSON REST API on 127.0.0.1 for the HTTP source tests (threaded http.server).

It serves one list of records under three pagination styles, filters by
`updated_since`/`updated_until` (both INCLUSIVE, as many real APIs do: the engine
must still keep the half-open interval), checks a bearer token, and injects faults:
`fail(path_and_page, 429, 500, ...)` makes the next requests for that page answer
with those statuses (429 with `Retry-After: 0`) before it succeeds. Every request
is logged as (path, page key, status).

    /page?page=N&per_page=K          {"data": [...], "total": T}
    /cursor?cursor=TOKEN&limit=K     {"items": [...], "meta": {"next_cursor": "..." | null}}
    /link?offset=O&limit=K           {"results": [...], "links": {"next": "/link?offset=..." | null}}
    /link-header?offset=O&limit=K    [...] with a `Link: <...>; rel="next"` header
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-token-123"


@dataclass
class ApiState:
    records: list[dict] = field(default_factory=list)
    page_size: int = 2
    faults: dict[str, list[int]] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    auth: str = "bearer"  # bearer | basic | none
    link_origin: str = ""  # /link: next links absolute on this origin (e.g. "https://evil.example"), "" = relative
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_records(self, records: list[dict]) -> None:
        with self.lock:
            self.records = [dict(r) for r in records]

    def fail(self, key: str, *statuses: int) -> None:
        with self.lock:
            self.faults.setdefault(key, []).extend(statuses)

    def served(self, status: int = 200) -> list[tuple[str, str]]:
        with self.lock:
            return [(p, k) for p, k, s in self.log if s == status]


def _ts(v: str) -> datetime:
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


class _Handler(BaseHTTPRequestHandler):
    state: ApiState  # set per server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        st = self.state
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        key = q.get("page") or q.get("cursor") or q.get("offset") or "first"
        if not self._authorized():
            with st.lock:
                st.log.append((path, key, 401))
            self._send(401, {"error": "unauthorized"})
            return
        with st.lock:
            pending = st.faults.get(f"{path}:{key}")
            status = pending.pop(0) if pending else 200
            st.log.append((path, key, status))
            rows = [r for r in st.records if self._matches(r, q)]
        if status == 429:
            self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
            return
        if status != 200:
            self._send(status, {"error": "boom"})
            return
        size = int(q.get("per_page") or q.get("limit") or st.page_size)
        if path == "/page":
            page = int(q.get("page", "1"))
            self._send(200, {"data": rows[(page - 1) * size : page * size], "total": len(rows)})
        elif path == "/cursor":
            start = int(q["cursor"][3:]) if "cursor" in q else 0  # opaque-looking tokens: "tok<offset>"
            nxt = f"tok{start + size}" if start + size < len(rows) else None
            self._send(200, {"items": rows[start : start + size], "meta": {"next_cursor": nxt}})
        elif path in ("/link", "/link-header"):
            start = int(q.get("offset", "0"))
            keep = "&".join(f"{k}={v}" for k, v in q.items() if k not in ("offset",))
            nxt = f"{path}?offset={start + size}&{keep}" if start + size < len(rows) else None
            if path == "/link":
                nxt = f"{st.link_origin}{nxt}" if nxt and st.link_origin else nxt
                self._send(200, {"results": rows[start : start + size], "links": {"next": nxt}})
            else:
                headers = {"Link": f'<http://{self.headers["Host"]}{nxt}>; rel="next"'} if nxt else {}
                self._send(200, rows[start : start + size], headers)
        else:
            self._send(404, {"error": f"no such endpoint {path}"})

    def _authorized(self) -> bool:
        got = self.headers.get("Authorization", "")
        if self.state.auth == "bearer":
            return got == f"Bearer {TOKEN}"
        if self.state.auth == "basic":
            return got == "Basic " + base64.b64encode(b"api-user:api-secret").decode()
        return True

    @staticmethod
    def _matches(r: dict, q: dict[str, str]) -> bool:
        ts = r.get("updated_at")
        if "updated_since" in q and (ts is None or _ts(ts) < _ts(q["updated_since"])):
            return False
        if "updated_until" in q and (ts is None or _ts(ts) > _ts(q["updated_until"])):
            return False
        return True


@dataclass(frozen=True)
class Api:
    url: str
    host: str
    port: int
    state: ApiState


@contextmanager
def http_api() -> Iterator[Api]:
    state = ApiState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield Api(f"http://{host}:{port}", host, port, state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
