"""The validated-config cache: used when nothing changed, invalidated by any input that
matters, never trusted when corrupt, and safe with concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

from dag_factory.config.cache import ConfigCache
from dag_factory.config.loader import load_pipelines

REPO = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "pipelines"
    shutil.copytree(REPO / "pipelines", root)
    return root


def _load(root: Path, cache: ConfigCache, env: str = "local"):
    result = load_pipelines(root, env=env, cache=cache)
    assert not result.errors, result.problems
    return result.pipelines


def _mark_entries(cache_dir: Path, description: str = "from the cache") -> int:
    """Rewrite every cached config's description: a load that shows it used the cache (a hit);
    a load that shows the YAML's validated the file again (a miss). Returns the entry count."""
    entries = list(cache_dir.rglob("*.json"))
    for entry in entries:
        content = json.loads(entry.read_text())
        content["data"]["description"] = description
        entry.write_text(json.dumps(content))
    return len(entries)


def test_second_load_hits_and_gives_identical_pipelines(tmp_path):
    root, cache = _tree(tmp_path), ConfigCache(tmp_path / "cache")
    first = _load(root, cache)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == len(first)  # one entry per valid file
    second = _load(root, cache)
    assert second == first
    assert second["daily_sales_report"].source.query == first["daily_sales_report"].source.query  # query file re-read
    assert _mark_entries(tmp_path / "cache") == len(first)
    assert {p.description for p in _load(root, cache).values()} == {"from the cache"}  # every file a hit


def test_any_relevant_change_is_a_miss(tmp_path):
    root, cache = _tree(tmp_path), ConfigCache(tmp_path / "cache")
    n = len(_load(root, cache))
    _mark_entries(tmp_path / "cache")
    orders = root / "shop_orders.yaml"
    orders.write_text(orders.read_text().replace("Orders from the shop DB", "Orders, changed"))
    loaded = _load(root, cache)
    assert loaded["shop_orders"].description.startswith("Orders, changed")  # the edited file: validated again
    assert [p.description for p in loaded.values()].count("from the cache") == n - 1  # the others: hits
    _mark_entries(tmp_path / "cache")
    defaults = root / "_defaults.yaml"
    defaults.write_text(defaults.read_text().replace("owner: data-eng", "owner: platform"))
    loaded = _load(root, cache)
    assert {p.owner for p in loaded.values()} == {"platform"}
    assert "from the cache" not in {p.description for p in loaded.values()}  # a defaults change misses them all
    _mark_entries(tmp_path / "cache")
    prod = _load(root, cache, env="prod")
    assert prod and "from the cache" not in {p.description for p in prod.values()}  # another environment: other keys


def test_query_file_change_is_seen_without_invalidating(tmp_path):
    root, cache = _tree(tmp_path), ConfigCache(tmp_path / "cache")
    _load(root, cache)
    (root / "sql" / "daily_sales.sql").write_text("select 1 as one")
    assert _load(root, cache)["daily_sales_report"].source.query == "select 1 as one"


def test_corrupt_or_foreign_entries_are_misses(tmp_path):
    root, cache = _tree(tmp_path), ConfigCache(tmp_path / "cache")
    good = _load(root, cache)
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == len(good)
    entries[0].write_text('{"format": 1, "data": ')  # torn write
    entries[1].write_text(json.dumps({"format": 999, "data": {}, "marks": []}))
    fresh = ConfigCache(tmp_path / "cache")
    assert _load(root, fresh) == good
    for entry in entries[:2]:  # both were misses: validated again and written back whole
        assert json.loads(entry.read_text())["format"] == 1


def test_broken_files_are_never_cached(tmp_path):
    root, cache = _tree(tmp_path), ConfigCache(tmp_path / "cache")
    (root / "broken_one.yaml").write_text("version: 1\nname: broken_one\n")
    for _ in range(2):
        result = load_pipelines(root, cache=cache)
        assert [e.path.name for e in result.errors] == ["broken_one.yaml"]
    assert not any("broken" in json.loads(p.read_text())["data"].get("name", "") for p in (tmp_path / "cache").rglob("*.json"))


def _hammer(directory: str, worker: int) -> None:
    cache = ConfigCache(Path(directory))
    for i in range(200):
        cache.put("ab" + "0" * 62, {"data": {"worker": worker, "i": i, "pad": "x" * 5000}, "marks": []})
        entry = cache.get("ab" + "0" * 62)
        assert entry is not None and entry["data"]["pad"] == "x" * 5000  # never a torn entry


def test_concurrent_writers_never_expose_partial_entries(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path / "cache"), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert not list((tmp_path / "cache").rglob("*.tmp"))
