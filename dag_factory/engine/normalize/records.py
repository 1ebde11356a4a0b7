"""JSON records (HTTP pages, JSON-lines files) -> Arrow batches of one fixed schema.

Schema: either declared (`fields: {id: integer, amount: decimal(12,2), ...}`: exactly
those columns, in that order) or inferred from the first non-empty page/file and then
fixed: later records are converted to it (a missing field is NULL), a value that does
not fit raises an EngineError naming the field, and so does a field that was not on
the first page. Nested objects and lists are kept as JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from dag_factory.engine.normalize.types import TIMESTAMP, field_type
from dag_factory.errors import EngineError


# -- value conversion -------------------------------------------------------------
def parse_timestamp(v: Any) -> datetime | None:
    """ISO 8601 text -> an aware UTC datetime (no offset = UTC)."""
    if v is None or isinstance(v, datetime):
        return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)
    if not isinstance(v, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, got {v!r}")
    dt = datetime.fromisoformat(v.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _parse_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    if not isinstance(v, str):
        raise ValueError(f"expected a YYYY-MM-DD string, got {v!r}")
    return date.fromisoformat(v.strip()[:10]) if len(v.strip()) > 10 and v.strip()[10] in "T " else date.fromisoformat(v.strip())


def _to_decimal(v: Any) -> Decimal | None:
    if v is None or isinstance(v, Decimal):
        return v
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    if isinstance(v, (int, str)):
        try:
            return Decimal(v)
        except InvalidOperation:
            raise ValueError(f"expected a decimal number, got {v!r}") from None
    if isinstance(v, float):
        return Decimal(repr(v))
    raise ValueError(f"expected a number, got {_kind(v)}")


def _to_float(v: Any) -> Any:
    return float(v) if isinstance(v, Decimal) else v


def _json_text(v: Any) -> str | None:
    if v is None:
        return None
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v) if v != v.to_integral_value() or "E" in str(v) else int(v)
    raise TypeError(type(v).__name__)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float, Decimal)) else type(v).__name__
    )


def _plain(v: Any) -> Any:
    """A JSON value for an inferred column: nested values as JSON text, numbers as int/float."""
    if isinstance(v, (dict, list)):
        return _json_text(v)
    if isinstance(v, Decimal):
        return float(v)
    return v


def _convert(values: list[Any], t: pa.DataType, declared: str | None) -> list[Any]:
    if declared == "json":
        return [_json_text(v) for v in values]
    if pa.types.is_timestamp(t):
        return [parse_timestamp(v) for v in values]
    if pa.types.is_date(t):
        return [_parse_date(v) for v in values]
    if pa.types.is_decimal(t):
        return [_to_decimal(v) for v in values]
    if pa.types.is_floating(t):
        return [_to_float(v) for v in values]
    for v in values:
        if isinstance(v, (dict, list)):
            raise ValueError(f"got {_kind(v)}; declare the field as json")
        if isinstance(v, bool) and not pa.types.is_boolean(t):
            raise ValueError(f"got a boolean ({v!r})")
    return values


class RecordConverter:
    """JSON records (dicts) -> RecordBatches of one fixed schema.

    `where` names the source in errors (e.g. "GET /v1/orders"); `unit` is "page" or "file"."""

    def __init__(self, where: str, fields: tuple[tuple[str, str], ...] = (), cursor: str | None = None) -> None:
        self.where = where
        self.cursor = cursor
        self.declared = dict(fields)
        self.schema: pa.Schema | None = None
        if fields:
            types = [pa.field(n, field_type(t)) for n, t in fields]
            self.schema = pa.schema(types)
            if cursor and cursor in self.declared and self.declared[cursor] != "timestamp":
                raise EngineError(
                    f"{where}: the cursor field {cursor!r} must be declared as timestamp, not {self.declared[cursor]}"
                )

    def infer(self, records: list[dict[str, Any]], unit: str) -> pa.Schema:
        """The schema from the first non-empty page or file (fixed afterwards)."""
        names: dict[str, None] = {}
        for r in records:
            names.update(dict.fromkeys(r))
        fields = []
        for name in names:
            values = [_plain(r.get(name)) for r in records]
            if name == self.cursor:
                t = TIMESTAMP
            else:
                try:
                    t = pa.array(values).type
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
                    kinds = sorted({_kind(v) for v in values if v is not None})
                    raise EngineError(
                        f"{self.where}: field {name!r} mixes {' and '.join(kinds)} on the first {unit} ({e}); "
                        "declare its type under source.fields"
                    ) from None
                if pa.types.is_null(t):
                    t = pa.string()  # only NULLs seen: text (declare the type to be sure)
            fields.append(pa.field(name, t))
        self.schema = pa.schema(fields)
        return self.schema

    def batch(self, records: list[Any], unit: str) -> pa.RecordBatch:
        """Records -> a batch of the fixed schema (inferring it from these when not yet known)."""
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise EngineError(f"{self.where}: record {i} of {unit} is {_kind(r)}, expected an object")
        if self.schema is None:
            self.infer(records, unit)
        schema = self.schema
        assert schema is not None
        if not self.declared:
            known = set(schema.names)
            for r in records:
                extra = [k for k in r if k not in known]
                if extra:
                    raise EngineError(
                        f"{self.where}: field {extra[0]!r} appears on {unit} but not on the first one, which fixed "
                        f"the columns {schema.names}; declare the fields (and their types) under source.fields"
                    )
        arrays = []
        for f in schema:
            raw = [r.get(f.name) for r in records]
            declared = self.declared.get(f.name)
            try:
                values = _convert(raw if declared else [_plain(v) for v in raw], f.type, declared)
                arrays.append(pa.array(values, type=f.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError, OverflowError) as e:
                first = next((v for v in raw if v is not None and not _fits(v, f.type, declared)), None)
                sample = f" (e.g. {(_json_text(first) or '')[:60]})" if first is not None else ""
                raise EngineError(
                    f"{self.where}: field {f.name!r} on {unit} does not fit its type {f.type}: {e}{sample}"
                    + ("" if declared else "; the type was inferred from the first one, declare it under source.fields")
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _fits(v: Any, t: pa.DataType, declared: str | None) -> bool:
    try:
        pa.array(_convert([v if declared else _plain(v)], t, declared), type=t)
        return True
    except (pa.ArrowException, ValueError, TypeError, ArithmeticError):  # a value that does not convert
        return False
