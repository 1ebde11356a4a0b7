"""`dag-factory shards`: the DAG files it writes, and `new`'s note when the pipelines outgrow them."""

from __future__ import annotations

from pathlib import Path

from dag_factory.cli import main
from dag_factory.config.shards import SINGLE_FILE_TEXT, shard_file_name


def _project(tmp_path: Path, n: int) -> Path:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "generate.py").write_text(SINGLE_FILE_TEXT)
    root = tmp_path / "pipelines"
    for i in range(n):
        (root / f"team{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"team{i % 3}" / f"p{i:04d}.yaml").write_text("version: 1\n")  # only counted here
    return root


def test_shards_defaults_to_one_file_per_500_pipelines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, 1001)
    assert main(["shards", "--check"]) == 1
    assert "1001 pipelines in 1 DAG file(s)" in capsys.readouterr().out
    assert main(["shards"]) == 0
    out = capsys.readouterr().out
    assert "removed dags/generate.py" in out and "1001 pipelines in 3 DAG file(s)" in out
    assert sorted(p.name for p in (tmp_path / "dags").iterdir()) == [shard_file_name(i, 3) for i in range(3)]
    assert main(["shards", "--check"]) == 0
    assert main(["shards", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "dags").iterdir()) == ["generate.py"]


def test_new_notes_when_the_pipelines_outgrow_the_dag_files(tmp_path, monkeypatch, capsys):
    from dag_factory.cli.shards import layout_hint

    monkeypatch.chdir(tmp_path)
    root = _project(tmp_path, 501)
    assert "run `dag-factory shards`" in layout_hint(root)
    assert main(["shards"]) == 0
    assert layout_hint(root) is None
