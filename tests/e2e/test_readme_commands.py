"""Issue 13.1: README's commands, taken from README's own text, work as typed in a fresh shell
after README's set-up command (`./demo.sh`), in a copy of the checkout.

The shell gets no virtualenv on PATH (`dag-factory: command not found` was the bug), a fresh
HOME and no AIRFLOW_CONN_* variables; commands that run a server until Ctrl-C (`--ui`) and
`./test.sh` (this suite itself) are the only lines left out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from hashlib import sha256
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]
SETUP = "./demo.sh"
LEFT_OUT = ("./test.sh", "--ui")  # the suite itself; servers that run until Ctrl-C


def readme_commands(text: str) -> list[str]:
    """Every command line of README's ```bash blocks, in order (comments and blanks dropped)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.split(" # ")[0].strip() if not line.lstrip().startswith("#") else ""
            if command:
                out.append(command)
    return out


def _fresh_shell(command: str, cwd: Path, home: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb"}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of this checkout (tracked and new files), a git repository on `main`, sharing
    this checkout's .venv, which README's set-up command (scripts/setup.sh) brought up to date."""
    stamp = (
        REPO
        / ".venv"
        / f".installed-{sha256((REPO / 'constraints.txt').read_bytes() + (REPO / 'setup.cfg').read_bytes()).hexdigest()[:16]}"
    )
    if not stamp.exists():  # set the real venv up first, so the copy's set-up finds it ready
        subprocess.run([str(REPO / "scripts/setup.sh")], cwd=REPO, check=True, timeout=1800)
    copy = tmp_path_factory.mktemp("checkout") / "dag_factory"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    (copy / ".venv").symlink_to(REPO / ".venv")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "checkout"]):
        subprocess.run([*git, *args], cwd=copy, check=True, capture_output=True)
    return copy


def test_readme_lists_its_set_up_command_and_commands():
    commands = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert commands[0] == SETUP
    assert any(c.startswith("./dag-factory ") for c in commands)
    assert not any(re.match(r"^dag-factory\b", c) for c in commands), "README must not rely on a command not on PATH"


def test_readme_commands_work_as_typed_after_the_set_up_command(checkout: Path, tmp_path):
    commands = readme_commands((checkout / "README.md").read_text(encoding="utf-8"))
    setup = _fresh_shell(SETUP, checkout, tmp_path)
    assert setup.returncode == 0, f"{SETUP} failed:\n{setup.stdout[-3000:]}\n{setup.stderr[-3000:]}"
    ran = []
    for command in commands:
        if command == SETUP or any(part in command for part in LEFT_OUT):
            continue
        done = _fresh_shell(command, checkout, tmp_path, timeout=600)
        assert done.returncode == 0, f"`{command}` failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "command not found" not in done.stderr
        ran.append(command)
    assert len(ran) >= 8, ran
    assert (checkout / "pipelines/shop_refunds.yaml").is_file()  # `new` wrote where README says
    assert (checkout / "docs/catalog/index.md").is_file()  # and `docs` too
