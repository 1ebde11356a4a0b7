"""`dag-factory shards`: split the DAG file into shards once the pipelines outgrow one file.

One DAG file is parsed by one dag-processor process within `dagbag_import_timeout` (30 s);
at a few thousand pipelines that is too tight. Rerunning the command is safe: it rewrites
the layout for the current count and removes the files of the layout it replaces.
"""

from __future__ import annotations

from pathlib import Path

from dag_factory.cli.common import display
from dag_factory.config.loader import discover
from dag_factory.config.shards import PER_SHARD, current_shards, dags_dir_for, shards_for, write_layout


def shards_command(count: int | None, pipelines: str | None, dags: str | None, check: bool) -> int:
    root = Path(pipelines or "pipelines")
    if not root.is_dir():
        print(f"dag-factory shards: no pipelines folder {display(root)}", flush=True)
        return 2
    dags_dir = Path(dags) if dags else dags_dir_for(root)
    found = len(discover(root))
    wanted = count if count else shards_for(found)
    now = current_shards(dags_dir) or 1
    if check:
        ok = now >= shards_for(found)
        verdict = "enough" if ok else f"too few: run `dag-factory shards` for {shards_for(found)}"
        print(f"{found} pipelines in {now} DAG file(s) ({PER_SHARD} per file advised): {verdict}")
        return 0 if ok else 1
    if wanted < 1:
        print("dag-factory shards: the count must be at least 1")
        return 2
    written, removed = write_layout(dags_dir, wanted)
    for path in removed:
        print(f"removed {display(path)}")
    for path in written:
        print(f"wrote {display(path)}")
    per = -(-found // wanted)
    print(f"{found} pipelines in {wanted} DAG file(s) in {display(dags_dir)}, about {per} each")
    if removed or written:
        print("  deploy the whole DAG folder and delete the removed files there too (e.g. `aws s3 sync --delete`)")
    return 0


def layout_hint(root: Path) -> str | None:
    """A line for `new` when the pipelines have outgrown the DAG files that build them."""
    try:
        found = len(discover(root))
        now = current_shards(dags_dir_for(root)) or 1
    except OSError:
        return None
    if now >= shards_for(found):
        return None
    return (
        f"  note: {found} pipelines in {now} DAG file(s): run `dag-factory shards` to split them "
        f"({PER_SHARD} per file) so Airflow parses them in parallel within its timeout"
    )
