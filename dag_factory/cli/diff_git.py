"""Reading a git ref's files for `dag-factory diff`: which commit to compare with, and its
pipelines folder written out to a temporary folder (so that ref's `_defaults.yaml` and query
files apply when it is loaded)."""

from __future__ import annotations

import subprocess
from pathlib import Path

DEFAULT_BASES = ("main", "origin/main", "master", "origin/master")


class DiffError(Exception):
    """A usage problem (not a git repository, unknown ref): exit 2."""


def git(args: list[str], cwd: Path, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    if proc.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def resolve(ref: str, cwd: Path) -> str | None:
    try:
        return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd).decode().strip() or None
    except DiffError:
        return None


def base_commit(ref: str | None, top: Path) -> tuple[str, str]:
    """(commit sha, how to describe it)."""
    if ref:
        sha = resolve(ref, top)
        if not sha:
            raise DiffError(f"unknown git ref {ref!r}")
        return sha, f"{ref} ({sha[:10]})"
    if not resolve("HEAD", top):
        raise DiffError("the repository has no commits yet; give a BASE_REF")
    for candidate in DEFAULT_BASES:
        if resolve(candidate, top):
            try:
                sha = git(["merge-base", "HEAD", candidate], top).decode().strip()
            except DiffError:
                continue
            return sha, f"merge base of HEAD and {candidate} ({sha[:10]})"
    raise DiffError(f"none of {', '.join(DEFAULT_BASES)} exists; give a BASE_REF (a branch, tag or commit)")


def materialize(commit: str, top: Path, prefix: str, dest: Path) -> bool:
    """Write the files under `prefix` at `commit` into dest/prefix; False if the folder did not exist."""
    listing = git(["ls-tree", "-r", "-z", commit, "--", prefix or "."], top)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":  # files only: no symlinks or submodules
            entries.append((sha.decode(), raw_path.decode()))
    if not entries:
        return False
    out = git(["cat-file", "--batch"], top, input=b"".join(f"{sha}\n".encode() for sha, _ in entries))
    pos = 0
    for _sha, path in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return True
