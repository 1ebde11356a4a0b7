"""JSON-Schema validation that reports every error at its file, line and column."""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dag_factory.config.yaml_loader import VALUE, KeyPath, Mark, nearest_mark
from dag_factory.errors import Problem

if TYPE_CHECKING:  # jsonschema is imported only to explain an invalid file (0.1 s of every start)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "pipeline.schema.json"
_PACKAGED_SCHEMA = Path(__file__).resolve().parent / "pipeline.schema.json"

MAX_PROBLEMS = 50  # per file and check; more are summarized in one line

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def schema_path() -> Path:
    """The schema file: the repository's copy in a checkout, the packaged copy in a wheel."""
    return SCHEMA_PATH if SCHEMA_PATH.exists() else _PACKAGED_SCHEMA


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(schema(), format_checker=FormatChecker(formats=["date"]))


@lru_cache(maxsize=1)
def _fast_validator():
    """The schema compiled to Python by fastjsonschema: ~20x faster than jsonschema.
    It only answers "valid or not"; invalid documents get jsonschema's full report."""
    import copy
    from datetime import date

    import fastjsonschema

    def is_date(value: str) -> bool:
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10

    compiled = copy.deepcopy(schema())
    compiled["$schema"] = "http://json-schema.org/draft-07/schema#"  # the keywords we use are all draft-07
    # use_default=False: validation must never write defaults into the user's config
    return fastjsonschema.compile(compiled, formats={"date": is_date}, use_default=False)


def is_valid(data: Any) -> bool:
    import fastjsonschema

    try:
        _fast_validator()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _subschema_properties(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(props)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if isinstance(value, str):
        from dag_factory.config.secrets import mask

        value = mask(value[:1000])  # an invalid value may be a pasted credential: never repeat it (secrets.py)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_keys(error: ValidationError) -> list[tuple[str, str, KeyPath]]:
    path: KeyPath = tuple(error.absolute_path)
    known = _subschema_properties(error)
    instance = error.instance if isinstance(error.instance, dict) else {}
    extra = [k for k in instance if k not in known][: MAX_PROBLEMS + 1]
    out = []
    order = {k: i for i, k in enumerate(instance)} if extra else {}
    for key in extra:
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        home = _dedented_from(instance, order, str(key), known)
        if home:
            hint = f"'{key}' belongs to '{home}': indent it under {home}:"
        else:
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
        out.append((f"unknown key {key!r}", hint, path + (key,)))
    return out


def _dedented_from(instance: dict, order: dict[str, int], key: str, known: list[str]) -> str | None:
    """The mapping written just before `key` (past other stray keys) that takes `key`:
    `table:` dedented out of `source:`."""
    keys = list(instance)  # dict order is file order
    i = order.get(key, 0) - 1
    while i >= 0 and order.get(key, 0) - i <= 10:
        name = keys[i]
        if name in known:
            return name if isinstance(instance[name], dict) and key in _properties_of(name) else None
        i -= 1
    return None


def _properties_of(name: str) -> set[str]:
    spec = schema().get("properties", {}).get(name, {})
    ref = spec.get("$ref", "") if isinstance(spec, dict) else ""
    if ref.startswith("#/$defs/"):
        spec = schema()["$defs"].get(ref.rsplit("/", 1)[1], {})
    return set(spec.get("properties", {})) if isinstance(spec, dict) else set()


# what people call a load mode elsewhere (dbt, dlt, Sling) -> the mode and option that does it here
_MODE_HINTS = {
    "upsert": "use mode: incremental with primary_key: [...]: rows with the same key are replaced",
    "merge": "use mode: incremental with primary_key: [...]: rows with the same key are replaced",
    "append": "use mode: incremental without primary_key: each run adds its interval's rows (a re-run replaces them, never duplicates)",
    "insert": "use mode: incremental without primary_key: each run adds its interval's rows (a re-run replaces them, never duplicates)",
    "replace": "use mode: full_refresh: the whole table is replaced atomically on every run",
    "overwrite": "use mode: full_refresh: the whole table is replaced atomically on every run",
    "truncate": "use mode: full_refresh: the whole table is replaced atomically on every run",
    "full": "use mode: full_refresh: the whole table is replaced atomically on every run",
    "scd2": "use mode: history with primary_key: [...]: one row per version with valid_from, valid_to, is_current",
}


# dlt's schema-contract words -> our on_schema_change policy (dbt's words are ours already)
_POLICY_HINTS = {
    "evolve": "append_new_columns",
    "freeze": "fail",
    "discard_value": "ignore",
    "discard_row": "ignore",
    "sync": "sync_all_columns",
    "append": "append_new_columns",
}


def _enum_hint(error: ValidationError) -> str:
    value = error.instance
    if not isinstance(value, str):
        return ""
    if list(error.absolute_path)[-2:] == ["load", "mode"]:
        hint = _MODE_HINTS.get(value.strip().lower().replace("-", "_").replace(" ", "_"))
        if hint:
            return hint + "; see docs/load-types.md"
    if list(error.absolute_path)[-2:] == ["load", "on_schema_change"]:
        policy = _POLICY_HINTS.get(value.strip().lower().replace("-", "_"))
        if policy:
            return f"did you mean {policy!r}? (see docs/schema-changes.md)"
    allowed = error.validator_value if isinstance(error.validator_value, list) else []
    close = difflib.get_close_matches(value, [str(v) for v in allowed], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _message(error: ValidationError) -> tuple[str, str, KeyPath]:
    """(message, hint, path to point at) for one jsonschema error; value errors point at the value."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # explain with the alternative whose type fits (a mapping given to `schedule`: the {after:} form)
        from jsonschema.exceptions import best_match

        fitting = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        deepest = best_match(fitting) if fitting else None
        if deepest is not None:
            return _explain(deepest)
        names = " or ".join(_alternatives(_expected(error)))
        path = tuple(error.absolute_path) + ((VALUE,) if error.absolute_path else ())
        return f"expected {names}, got {_describe(error.instance)}", "", path
    return _explain(error)


def _alternatives(options: list[Any]) -> list[str]:
    out: list[str] = []
    for option in options:
        types = option.get("type", []) if isinstance(option, dict) else []
        for t in types if isinstance(types, list) else [types]:
            out.append(_TYPE_NAMES.get(t, str(t)))
    return out or ["a valid value"]


def _expected(error: ValidationError) -> Any:
    """The schema value the instance failed: typed `Unset` only for errors built by hand, never by iter_errors."""
    return error.validator_value


def _schema(error: ValidationError) -> dict[str, Any]:
    """The failing subschema as a mapping (the stubs also allow True/False schemas and `Unset`)."""
    return error.schema if isinstance(error.schema, dict) else {}


def _explain(error: ValidationError) -> tuple[str, str, KeyPath]:
    path: KeyPath = tuple(error.absolute_path)
    v = error.validator
    expected = _expected(error)
    if v == "additionalProperties":
        return _unknown_keys(error)[0]
    if path and v not in ("required", "additionalProperties"):
        path = path + (VALUE,)
    if v == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return f"missing required key {missing!r}", "", path
    if v == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        names = " or ".join(_TYPE_NAMES.get(w, str(w)) for w in wanted)
        return f"expected {names}, got {_describe(error.instance)}", "", path
    if v == "enum":
        return f"{_describe(error.instance)} is not one of: {', '.join(map(str, expected))}", _enum_hint(error), path
    if v in ("minProperties", "maxProperties") and isinstance(error.instance, dict):
        allowed = ", ".join(_subschema_properties(error))
        return f"needs exactly one of: {allowed}" if _schema(error).get("maxProperties") == 1 else error.message, "", path
    if v == "const":
        return f"must be {expected!r}, got {_describe(error.instance)}", "", path
    if v == "pattern":
        rule = _schema(error).get("x-rule")
        return (
            f"{_describe(error.instance)} is not valid: expected {rule or 'a value matching ' + expected}",
            "",
            path,
        )
    if v == "format":
        return f"{_describe(error.instance)} is not a valid {expected} (YYYY-MM-DD)", "", path
    if v == "not" and list(error.absolute_path)[-1:] == ["path"]:
        return f"{_describe(error.instance)} must not contain '..'", "", path
    return (error.message if len(error.message) <= 300 else error.message[:297] + "..."), "", path


def schema_problems(data: Any, marks: dict[KeyPath, Mark], default_file: str) -> list[Problem]:
    """Every schema violation in `data`, located through `marks` (nearest ancestor)."""
    if is_valid(data):
        return []
    problems = []
    for error in validator().iter_errors(data):
        found = _unknown_keys(error) if error.validator == "additionalProperties" else [_message(error)]
        for message, hint, path in found:
            mark = nearest_mark(marks, path) or Mark(default_file, 1, 1)
            dotted = ".".join(str(p) for p in path if p != VALUE)
            problems.append(Problem(mark.file, mark.line, mark.column, message, dotted, hint))
        if len(problems) > MAX_PROBLEMS:  # a file with 100,000 wrong values: stop early, stay fast
            problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))[:MAX_PROBLEMS]
            last = problems[-1]
            problems.append(Problem(last.file, last.line, last.column, f"more than {MAX_PROBLEMS} problems; fix these first"))
            return problems
    return sorted(problems, key=lambda p: (p.file, p.line, p.column))
