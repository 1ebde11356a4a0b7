"""`type: http`: records from a JSON REST API, page by page, as Arrow batches.

Connection (Airflow conn_type `http`, engine kind `http`), as the http provider reads it:
`host` (may be a full base URL such as `https://api.example.com/v2`), `schema` (the URL
scheme when `host` has none; default `http`), `port`, `login`/`password` (HTTP basic
auth), `extra`: every key is a request header (e.g. `{"Authorization": "Bearer ..."}`),
except these options: `headers` (a dict of headers), `timeout` (seconds per request,
default 60), `retries` (default 5), `backoff_factor` (default 1.0), `verify` (TLS
verification, default true). Secrets live only in the connection and never appear in
errors or logs.

Retries: urllib3's `Retry` on connection errors and on 429/500/502/503/504, with
exponential backoff and the server's `Retry-After` honoured. A retried request is the
same request (same page), so every record arrives exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from dag_factory.config.model import HttpSource, Load, Source
from dag_factory.config.schedules import Interval
from dag_factory.engine.connections import ConnInfo
from dag_factory.engine.sources.base import expect
from dag_factory.engine.sources.raw import RecordStream
from dag_factory.engine.sources.templates import render_text
from dag_factory.errors import ConnectionConfigError, EngineError

if TYPE_CHECKING:
    import requests

RETRY_STATUSES = (429, 500, 502, 503, 504)
_OPTIONS = {"headers", "timeout", "retries", "backoff_factor", "verify"}


def base_url(conn: ConnInfo) -> str:
    """The connection's base URL (scheme://host[:port][/path]), like the http provider's HttpHook."""
    host = (conn.host or "").strip()
    if not host:
        raise ConnectionConfigError(f"connection {conn}: an HTTP connection needs a host (e.g. https://api.example.com)")
    url = host if "://" in host else f"{conn.database or 'http'}://{host}"
    if conn.port and not urlsplit(url).port:
        parts = urlsplit(url)
        url = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl()
    return url.rstrip("/")


def dig(body: Any, path: str, what: str, where: str) -> Any:
    """The value at a dot path (`data.items`) of a JSON body."""
    value = body
    for key in path.split(".") if path else []:
        if not isinstance(value, dict) or key not in value:
            keys = ", ".join(list(value)[:10]) if isinstance(value, dict) else type(value).__name__
            raise EngineError(f"{where}: {what} {path!r} not found in the response (at {key!r}; found: {keys})")
        value = value[key]
    return value


class HttpSourceReader:
    """Reads one `type: http` source through `requests` with urllib3 retries."""

    def __init__(self, conn: ConnInfo) -> None:
        self.conn = conn
        self._session: requests.Session | None = None
        extra = dict(conn.extra or {})
        self.timeout = float(extra.get("timeout", 60))
        self.retries = int(extra.get("retries", 5))
        self.backoff = float(extra.get("backoff_factor", 1.0))
        self.verify = extra.get("verify", True)
        headers = {k: str(v) for k, v in extra.items() if k not in _OPTIONS}
        headers.update({k: str(v) for k, v in (extra.get("headers") or {}).items()})
        self._headers = headers  # may hold tokens: never logged or put into errors

    def session(self) -> requests.Session:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            retry = Retry(
                total=self.retries,
                connect=self.retries,
                read=self.retries,
                status=self.retries,
                backoff_factor=self.backoff,
                backoff_max=60,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"GET"}),
                respect_retry_after_header=True,
                raise_on_status=False,  # the last response comes back; raise_for_status names it
            )
            s = requests.Session()
            adapter = HTTPAdapter(max_retries=retry)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            s.headers.update({"Accept": "application/json", **self._headers})
            if self.conn.login:
                s.auth = (self.conn.login, self.conn.password or "")
            s.verify = self.verify
            self._session = s
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> HttpSourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------
    def _get(self, url: str, params: dict[str, str] | None, where: str) -> tuple[Any, Any]:
        import requests

        try:
            resp = self.session().get(url, params=params, timeout=self.timeout)
        except requests.RequestException as e:
            raise EngineError(f"{where}: request failed after {self.retries} retries: {type(e).__name__}: {_short(e)}") from None
        if resp.status_code >= 400:
            raise EngineError(f"{where}: HTTP {resp.status_code} {resp.reason}: {resp.text[:200]!r}")
        try:
            body = json.loads(resp.content, parse_float=Decimal)
        except ValueError as e:
            raise EngineError(f"{where}: the response is not JSON ({e}): {resp.text[:100]!r}") from None
        return resp, body

    def pages(self, source: HttpSource, interval: Interval) -> Iterator[tuple[int, list]]:
        """(page number, records) for every page, following the pagination style."""
        base = base_url(self.conn)
        url = f"{base}/{source.endpoint.lstrip('/')}"
        params: dict[str, str] | None = {k: render_text(v, interval, f"source.params.{k}") for k, v in source.params}
        pg = source.pagination
        origin = urlsplit(url)[:2]
        page_no = pg.start_page
        seen_tokens: set[str] = set()
        for n in range(1, pg.max_pages + 2):
            if n > pg.max_pages:
                raise EngineError(f"GET {source.endpoint}: more than max_pages={pg.max_pages} pages; raise pagination.max_pages")
            query = dict(params) if params is not None else None
            if pg.type == "page_number" and query is not None:
                query[pg.page_param] = str(page_no)
                if pg.page_size and pg.size_param:
                    query[pg.size_param] = str(pg.page_size)
            where = f"GET {source.endpoint} (page {n})"
            resp, body = self._get(url, query, where)
            records = dig(body, source.records_path, "records_path", where)
            if not isinstance(records, list):
                raise EngineError(
                    f"{where}: records_path {source.records_path or '(the body)'!r} is {type(records).__name__}, expected a list"
                )
            yield n, records
            if pg.type == "none":
                return
            if pg.type == "page_number":
                if not records or (pg.page_size and len(records) < pg.page_size):
                    return
                page_no += 1
            elif pg.type == "cursor":
                token = dig(body, pg.cursor_path, "pagination.cursor_path", where) if _has(body, pg.cursor_path) else None
                if token in (None, ""):
                    return
                token = str(token)
                if token in seen_tokens:
                    raise EngineError(f"{where}: the API returned cursor {token!r} again; stopping instead of looping")
                seen_tokens.add(token)
                params = {**(params or {}), pg.cursor_param: token}
            else:  # next_link
                link = (
                    (dig(body, pg.next_link_path, "pagination.next_link_path", where) if _has(body, pg.next_link_path) else None)
                    if pg.next_link_path
                    else resp.links.get("next", {}).get("url")
                )
                if not link:
                    return
                nxt = urljoin(url, str(link))
                if urlsplit(nxt)[:2] != origin:
                    raise EngineError(
                        f"{where}: the next link points to another host ({urlsplit(nxt).netloc}); "
                        "not following it with this connection's credentials"
                    )
                if nxt in seen_tokens:
                    raise EngineError(f"{where}: the API returned the same next link again; stopping instead of looping")
                seen_tokens.add(nxt)
                url, params = nxt, None  # the link carries its own query string

    def read(self, source: Source, load: Load, interval: Interval) -> RecordStream:
        http = expect(source, HttpSource, self)
        return RecordStream(
            f"GET {http.endpoint}",
            ((f"page {n}", records) for n, records in self.pages(http, interval)),
            empty=f"GET {http.endpoint}: the API returned no records for {interval}, so there is no schema to "
            "infer; declare the fields and their types under source.fields to load empty intervals",
        )


def _has(body: Any, path: str | None) -> bool:
    value = body
    for key in (path or "").split("."):
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) < 300 else text[:297] + "..."
