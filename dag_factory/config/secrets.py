"""Secrets written into pipeline YAML: found, located, and never repeated.

A pipeline file is reviewed in pull requests, copied into CI logs and shown in the
Airflow UI (a broken file's error becomes the placeholder DAG's docs), so a
credential typed into it is already leaked. Lint and the generator refuse such
files with file:line:col; the message names the key or shows a masked form of the
value (`postgres://etl:***@db/shop`), never the secret itself.

What counts (every key and every string value of the merged config, defaults and
`environments:` blocks included):
- keys that name a credential: password, passwd, pwd, secret, token, api_key,
  access_key, private_key, client_secret, credentials, authorization, ...
  (`*_conn_id`, `*_file`, `*_path`, `*_env` name where a secret lives, not the secret);
- URIs with a password (`scheme://user:pass@host`) or a credential in the query
  string (`?sig=...`, `?token=...`);
- well-known token formats: AWS access key ids (AKIA/ASIA...), Slack tokens
  (xoxb-/xoxa-/xoxp-...) and webhook URLs, GitHub tokens (ghp_...), Google API keys,
  JSON Web Tokens, PEM private key blocks;
- long high-entropy strings (random-looking, no spaces) outside free-text fields.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from dag_factory.config.yaml_loader import VALUE, KeyPath, Mark, nearest_mark
from dag_factory.errors import Problem

ADVICE = "credentials belong in an Airflow connection"
HINT = "put the value in an Airflow connection (or a secrets backend) and refer to it by conn_id"

# key words (after splitting on _ - . and camelCase) that name a credential
_SECRET_WORDS = {
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "credential",
    "credentials",
    "authorization",
    "bearer",
    "privatekey",
    "accesskey",
    "secretkey",
    "sessionkey",
    "signingkey",
    "clientsecret",
    "webhookurl",
    "dsn",
    "connstr",
    "connectionstring",
}
# two adjacent words that together name a credential (api_key, access_key, private_key, ...)
_SECRET_PAIRS = {
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("private", "key"),
    ("session", "key"),
    ("signing", "key"),
    ("client", "secret"),
    ("auth", "token"),
    ("conn", "str"),
    ("connection", "string"),
    ("webhook", "url"),
    ("master", "key"),
    ("encryption", "key"),
}
# suffixes that name where a secret lives, not the secret
_REFERENCE_SUFFIXES = ("conn_id", "_conn", "_file", "_path", "_env", "_var", "_name", "_id")

_URI_CREDS = re.compile(r"\b([a-z][a-z0-9+.-]{1,20})://([^\s/:@?#]*):([^\s/@?#]+)@([^\s]*)", re.IGNORECASE)
_URI_QUERY_CRED = re.compile(
    r"\b(https?://[^\s?#]+\?(?:[^\s#]*&)?)(sig|signature|token|access_token|api_key|apikey|key|password|secret|code)=([^\s&#]{8,})",
    re.IGNORECASE,
)
_PATTERNS: list[tuple[str, re.Pattern[str], int]] = [  # (what, pattern, characters of the match kept in the mask)
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"), 4),
    ("a Slack token", re.compile(r"\bxox[abeoprs]-[0-9A-Za-z-]{10,}"), 5),
    ("a Slack webhook URL", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,}"), 23),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"), 4),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 4),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 3),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), -1),
]
# free text: long prose or SQL, where a random-looking word is not suspicious by itself
_FREE_TEXT_KEYS = {"description", "query", "sql", "query_file"}
_MIN_ENTROPY_LEN = 24
_MAX_TOKEN_LEN = 4096  # longer single "words" are data, not keys
_SPACE = re.compile(r"\s")


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True for a key that names a credential (password, api_key, clientSecret, X-Api-Token, ...)."""
    lowered = key.lower()
    if lowered.endswith(_REFERENCE_SUFFIXES):
        return False
    words = _words(key)
    if not words:
        return False
    if any(w in _SECRET_WORDS for w in words) or "".join(words) in _SECRET_WORDS:
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False))


def _entropy(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random_looking(text: str) -> bool:
    """A long token without spaces that looks random: a generated key, not a name or a path."""
    if len(text) < _MIN_ENTROPY_LEN or len(text) > _MAX_TOKEN_LEN or _SPACE.search(text):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{32,}", text):  # hex keys and digests
        return True
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    if classes < 3:  # snake_case names, paths and dates are not secrets
        return False
    return _entropy(text) >= 4.2


def _masker(keep: int) -> Callable[[re.Match[str]], str]:
    """Replacement keeping the first `keep` characters of a match (negative: the whole match)."""
    return lambda m: m.group(0) if keep < 0 else m.group(0)[:keep] + "***"


def mask(text: str) -> str:
    """`text` with every credential in it replaced by '***' (what error messages may show)."""
    text = _URI_CREDS.sub(lambda m: f"{m.group(1)}://{m.group(2)}:***@{m.group(4)}", text)
    text = _URI_QUERY_CRED.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", text)
    for _, pattern, keep in _PATTERNS:
        text = pattern.sub(_masker(keep), text)
    text = re.sub(
        r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----.*?(-----END \1-----|\Z)", r"-----BEGIN \1----- *** \2", text, flags=re.S
    )
    return re.sub(rf"\S{{{_MIN_ENTROPY_LEN},}}", lambda m: "***" if _random_looking(m.group(0)) else m.group(0), text)


# one cheap search first: most values contain none of the patterns' anchors
_MAYBE = re.compile(r"://|-----BEGIN|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|xox|gh[pousr]_|github_pat_|AIza|eyJ)")


def find_secret(text: str, free_text: bool = False) -> str | None:
    """What kind of credential `text` contains ('a URI with a password', ...), or None."""
    if not _MAYBE.search(text):
        return None if free_text else ("a long random-looking string" if _random_looking(text) else None)
    if _URI_CREDS.search(text):
        return "a URI with a password"
    if _URI_QUERY_CRED.search(text):
        return "a URL with a credential in its query string"
    for what, pattern, _ in _PATTERNS:
        if pattern.search(text):
            return what
    if not free_text and _random_looking(text):
        return "a long random-looking string"
    return None


def _walk(value: Any, path: KeyPath, free_text: bool) -> Iterator[tuple[KeyPath, str, bool, bool]]:
    """(path, text, is_key, free_text) for every key and string value below `path`."""
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str):
                yield path + (key,), key, True, False
            yield from _walk(child, path + (key,), isinstance(key, str) and key in _FREE_TEXT_KEYS)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk(child, path + (i,), free_text)
    elif isinstance(value, str):
        yield path, value, False, free_text


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def secret_problems(data: Any, marks: dict[KeyPath, Mark], display: str) -> list[Problem]:
    """One problem per key or value in `data` that looks like a credential, at its file:line:col."""
    out: list[Problem] = []
    seen: set[tuple[str, int, int]] = set()
    found: dict[tuple[str, bool], str | None] = {}  # aliases repeat one string many times: scan it once
    if isinstance(data, dict) and "environments" in data:  # first, so an override reports the same key path in every env
        data = {"environments": data["environments"], **{k: v for k, v in data.items() if k != "environments"}}
    for path, text, is_key, free_text in _walk(data, (), False):
        if len(out) >= 50:  # enough to act on; a generated file could otherwise report 100,000
            break
        dotted = ".".join(str(p) for p in path)
        if is_key and is_secret_key(text):
            m = nearest_mark(marks, path) or Mark(display, 1, 1)
            if (m.file, m.line, m.column) not in seen:
                seen.add((m.file, m.line, m.column))
                out.append(Problem(m.file, m.line, m.column, f"key {text!r} looks like a secret: {ADVICE}", dotted, HINT))
            continue
        if (text, free_text) not in found:
            found[(text, free_text)] = find_secret(text, free_text)
        what = found[(text, free_text)]
        if what is None:
            continue
        if is_key:
            m = nearest_mark(marks, path) or Mark(display, 1, 1)
            subject = f"key {_short(mask(text))!r}"
        else:
            m = nearest_mark(marks, path + (VALUE,)) or Mark(display, 1, 1)
            subject = f"value {_short(mask(text))!r}"
        if (m.file, m.line, m.column) not in seen:  # one value merged into two places is one problem
            seen.add((m.file, m.line, m.column))
            out.append(Problem(m.file, m.line, m.column, f"{subject} looks like a secret: {ADVICE} ({what})", dotted, HINT))
    return out
