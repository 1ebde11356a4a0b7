"""Which DAG file builds which pipeline, when the pipelines are split over several DAG files.

Airflow parses each DAG file in its own process under its own timeout
(`dagbag_import_timeout`, 30 s): one file building 10,000 DAGs runs out of it and every DAG
vanishes at once. Split into shards, the dag-processor parses the files in parallel, a YAML
change re-serializes only its shard, and a worker parses only its DAG's shard.

A pipeline's shard is a stable hash of its file name (= DAG id), not its folder: a folder of
any size spreads evenly, a new folder needs no new DAG file, and two files with the same name
(which lint rejects) always meet in the same shard, so the duplicate is caught there too.
"""

from __future__ import annotations

import math
import re
import zlib
from pathlib import Path

# pipelines per shard that `dag-factory shards` aims at: about 3 s of dag-processor time each
PER_SHARD = 500
SHARD_RE = re.compile(r"^generate_shard_(\d+)_of_(\d+)\.py$")
SINGLE_FILE = "generate.py"


def shard_of(stem: str, shards: int) -> int:
    """The shard (0..shards-1) of the pipeline file with this name; the same in every process."""
    return zlib.crc32(stem.encode("utf-8")) % shards if shards > 1 else 0


def shard_file_name(shard: int, shards: int) -> str:
    width = len(str(shards - 1))
    return f"generate_shard_{shard:0{width}d}_of_{shards}.py"


def shard_file_text(shard: int, shards: int) -> str:
    # Airflow's safe mode only parses .py files containing "airflow" and "dag": the import has both
    return (
        f'"""Airflow DAG file written by `dag-factory shards`: the DAGs of shard {shard} of {shards} of the pipelines."""\n'
        "\n"
        "from dag_factory.airflow import generate_dags\n"
        "\n"
        f"generate_dags(globals(), shard={shard}, shards={shards})\n"
    )


SINGLE_FILE_TEXT = (
    '"""Airflow DAG file: one DAG per pipeline YAML in pipelines/ (see dag_factory.airflow.generate)."""\n'
    "\n"
    "from dag_factory.airflow import generate_dags\n"
    "\n"
    "generate_dags(globals())\n"
)


def shards_for(pipelines: int) -> int:
    return max(1, math.ceil(pipelines / PER_SHARD))


def shard_files(dags_dir: Path) -> dict[str, int]:
    """Shard DAG files in `dags_dir`: file name -> the shard count it belongs to."""
    try:
        names = [e.name for e in dags_dir.iterdir()]
    except OSError:
        return {}
    return {n: int(m.group(2)) for n in names if (m := SHARD_RE.match(n))}


def current_shards(dags_dir: Path) -> int | None:
    """The shard count in force in `dags_dir` (the largest set present), or None: single file.
    A copy of the DAG folder that kept an older set (a bucket synced without deleting) must not
    build every DAG twice, so files of a smaller set stand aside."""
    counts = set(shard_files(dags_dir).values())
    return max(counts) if counts else None


def dags_dir_for(root: Path) -> Path:
    """Where the DAG files of a pipelines root live: `dags/` beside it (repository layout),
    else the folder holding it (MWAA layout: the DAG files beside `pipelines/`)."""
    beside = root.parent / "dags"
    return beside if beside.is_dir() else root.parent


def write_layout(dags_dir: Path, shards: int) -> tuple[list[Path], list[Path]]:
    """Write the DAG files of `shards` shards (1: the single generate.py) and remove the files of
    any other layout that this command wrote. Returns (written, removed)."""
    dags_dir.mkdir(parents=True, exist_ok=True)
    wanted = (
        {SINGLE_FILE: SINGLE_FILE_TEXT}
        if shards == 1
        else {shard_file_name(i, shards): shard_file_text(i, shards) for i in range(shards)}
    )
    written, removed = [], []
    for name in sorted(shard_files(dags_dir)):
        if name not in wanted:
            (dags_dir / name).unlink()
            removed.append(dags_dir / name)
    single = dags_dir / SINGLE_FILE
    if shards > 1 and single.is_file() and _is_our_single_file(single):
        single.unlink()
        removed.append(single)
    for name, text in wanted.items():
        path = dags_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written, removed


def _is_our_single_file(path: Path) -> bool:
    """The three-line generate.py (possibly edited in its docstring): safe to replace."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    code = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", '"""'))]
    return code == ["from dag_factory.airflow import generate_dags", "generate_dags(globals())"]
