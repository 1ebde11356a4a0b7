"""A cache of validated pipeline configs, keyed by content, shared by processes.

Airflow re-parses the DAG file every 30 s and on every task start. Parsing YAML and
validating it against the schema is most of our cost, and the files rarely change,
so a file whose bytes (and whose _defaults.yaml chain, environment, schema and
dag_factory version) were validated before is not validated again.

- Key = SHA-256 of everything the result depends on, so an entry is never stale:
  a changed file simply has another key.
- Entries are written to a temporary name and renamed into place (atomic on POSIX),
  so concurrent dag-processors and workers never read half an entry; a corrupt or
  unreadable entry counts as a miss.
- Only valid configs are cached; a broken file is re-checked (and reported) every parse.
- Location: $DAG_FACTORY_CACHE_DIR, else $AIRFLOW_HOME/dag_factory_cache, else
  ~/.cache/dag_factory. DAG_FACTORY_CACHE=off disables it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from dag_factory import __version__

FORMAT = 1
# bump when a check is added or changed, so configs cached before it are checked again
RULES = 2


@lru_cache(maxsize=1)
def _salt() -> bytes:
    from dag_factory.config.validate import schema_path

    schema = hashlib.sha256(schema_path().read_bytes()).hexdigest()
    return f"{FORMAT}:{RULES}:{__version__}:{schema}".encode()


class ConfigCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> ConfigCache | None:
        if os.environ.get("DAG_FACTORY_CACHE", "").lower() in ("off", "0", "false", "no"):
            return None
        explicit = os.environ.get("DAG_FACTORY_CACHE_DIR")
        if explicit:
            return cls(Path(explicit))
        home = os.environ.get("AIRFLOW_HOME")
        return cls(Path(home) / "dag_factory_cache" if home else Path.home() / ".cache" / "dag_factory")

    @staticmethod
    def key(file: str, raw: bytes, env: str, defaults: list[tuple[str, bytes]]) -> str:
        h = hashlib.sha256(_salt())
        for part in (file.encode(), env.encode(), raw, *(p.encode() + b"\0" + d for p, d in defaults)):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return None
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        final = self._path(key)
        tmp = final.with_name(f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"format": FORMAT, **entry}, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, final)
        except OSError:  # a read-only or full disk only costs speed
            tmp.unlink(missing_ok=True)
