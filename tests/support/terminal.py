"""A real terminal for tests: a tmux session on its own socket, driven like a person would.

Prompts only appear when standard input is a terminal, so `new`'s questions can only be
tested in one; tmux gives a real pty, a screen to read and keys to send.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path


class Terminal:
    def __init__(self, folder: Path, cwd: Path, env: dict[str, str], width: int = 200) -> None:
        if not shutil.which("tmux"):
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        self.socket = str(folder / "tmux.sock")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._tmux(
            "new-session", "-d", "-x", str(width), "-y", "50", "-c", str(cwd),
            f"env -i {exports} bash --norc --noprofile",
        )  # fmt: skip
        self._tmux("set-option", "-g", "history-limit", "5000")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        """Everything shown so far (scrollback included), trailing blanks removed."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-5000").rstrip()

    def type(self, text: str) -> None:
        """Type `text` and press Enter."""
        if text:
            self._tmux("send-keys", "-l", text)
        self._tmux("send-keys", "Enter")

    def wait_for(self, text: str, after: int = 0, timeout: float = 90) -> int:
        """Wait until `text` shows on the screen past character `after`; return where it ends."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            at = shown.find(text, after)
            if at >= 0:
                return at + len(text)
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; the screen shows:\n{shown}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)
