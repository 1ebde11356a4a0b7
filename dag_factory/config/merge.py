"""Layering: _defaults.yaml files, the pipeline, then the active environment.

Order, lowest to highest precedence:
  1. every `_defaults.yaml` from the pipelines root down to the pipeline's folder,
  2. the pipeline file,
  3. `environments.<env>` of those same layers, in the same order.
So an environment block in a defaults file (e.g. prod's warehouse) beats a base
value in the pipeline. Mappings merge key by key; lists and scalars replace.
Marks travel with values, so errors point at the file that set the value.
"""

from __future__ import annotations

from typing import Any

from dag_factory.config.yaml_loader import VALUE, KeyPath, LocatedDoc, Mark


def _paths_below(path: KeyPath, value: Any) -> list[KeyPath]:
    """Every key path a loaded `value` at `path` can have marks for, below `path` itself.

    Walking the value costs its size; scanning every mark per key (what this replaced)
    made a file with 90,000 keys take an hour, long enough to time the DAG file out."""
    out: list[KeyPath] = [path + (VALUE,)]
    stack: list[tuple[KeyPath, Any]] = [(path, value)]
    while stack:
        here, v = stack.pop()
        children = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, child in children:
            sub = here + (k,)
            out.append(sub)
            if isinstance(k, str):
                out.append(sub + (VALUE,))
            stack.append((sub, child))
    return out


def _drop_marks_under(marks: dict[KeyPath, Mark], path: KeyPath, old: Any) -> None:
    for key in _paths_below(path, old):
        marks.pop(key, None)


def _merge_into(
    base: dict[str, Any],
    marks: dict[KeyPath, Mark],
    layer: dict[str, Any],
    layer_marks: dict[KeyPath, Mark],
    src_prefix: KeyPath,
    dst_prefix: KeyPath,
) -> None:
    for key, value in layer.items():
        src, dst = src_prefix + (key,), dst_prefix + (key,)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            if src in layer_marks:
                marks[dst] = layer_marks[src]
            _merge_into(base[key], marks, value, layer_marks, src, dst)
            continue
        if key in base:
            _drop_marks_under(marks, dst, base[key])
        base[key] = _copy(value)
        n = len(src)
        for k in [src, *_paths_below(src, value)]:
            if k in layer_marks:
                marks[dst + k[n:]] = layer_marks[k]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def merge_layers(defaults: list[LocatedDoc], pipeline: LocatedDoc, env: str) -> tuple[dict[str, Any], dict[KeyPath, Mark]]:
    """Merge defaults (outermost first), the pipeline, then each layer's `environments.<env>`."""
    layers = [*defaults, pipeline]
    data: dict[str, Any] = {}
    marks: dict[KeyPath, Mark] = {(): pipeline.marks.get((), Mark(pipeline.file, 1, 1))}
    for layer in layers:
        if isinstance(layer.data, dict):
            body = {k: v for k, v in layer.data.items() if k != "environments"}
            _merge_into(data, marks, body, layer.marks, (), ())
    # keep the environments block itself (from the pipeline only) so the schema checks it
    for layer in layers:
        if isinstance(layer.data, dict) and isinstance(layer.data.get("environments"), dict):
            overrides = layer.data["environments"].get(env)
            if isinstance(overrides, dict):
                _merge_into(data, marks, overrides, layer.marks, ("environments", env), ())
    if isinstance(pipeline.data, dict) and "environments" in pipeline.data:
        data["environments"] = _copy(pipeline.data["environments"])
        for k, m in pipeline.marks.items():
            if k[:1] == ("environments",):
                marks[k] = m
    return data, marks
