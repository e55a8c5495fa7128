"""The real app in a real terminal: tmux runs `python -m companion.tui.app`; keys in, pane text out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """A private tmux server (its own socket) holding one pane of a fixed size."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"companion-e2e-{os.getpid()}-{time.monotonic_ns()}"
        self.conf = tmp / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g status off\n")

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", str(self.conf), *args],
                              capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the pane shows:\n{self.screen()}")

    def pane(self, field: str) -> str:
        return self("display-message", "-p", "-t", "app", f"#{{{field}}}").strip()


@pytest.fixture
def tmux(tmp_path):
    server = Tmux(tmp_path)
    yield server
    subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True)


def test_app_in_tmux_types_reloads_rules_and_quits(tmux, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    rules = repo / ".companion.toml"
    rules.write_text('[[rule]]\nname = "obo-check"\ntext = "Catch off-by-one errors."\n')
    exit_file = tmp_path / "exit-status"
    # A shell runs the app and writes its exit status: this does not depend on when tmux reaps.
    command = (f"{sys.executable} -m companion.tui.app --theme companion-light; "
               f"echo $? > {exit_file}")
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", "-c", str(repo),
         "-e", f"PYTHONPATH={ROOT}", "-e", f"COMPANION_CONFIG_DIR={tmp_path / 'config'}",
         "-e", "TERM=xterm-256color", command)
    shell = int(tmux.pane("pane_pid"))
    shown = tmux.wait_for("mic · screen · files · model unavailable (not connected)")
    assert "no companion runtime connected" in shown

    tmux("send-keys", "-t", "app", "F9")
    tmux.wait_for("obo-check")
    tmux("send-keys", "-t", "app", "-l", "hello there")
    tmux("send-keys", "-t", "app", "Enter")
    shown = tmux.wait_for("not sent:")
    assert "you ⌨  hello there" in shown

    rules.write_text('[gates]\nsnooze = "forever"\n')
    shown = tmux.wait_for(".companion.toml:2: gates.snooze: bad", timeout=5)
    assert "rules file invalid" in shown

    app_pid = int(Path(f"/proc/{shell}/task/{shell}/children").read_text().split()[0])
    tmux("send-keys", "-t", "app", "C-q")
    deadline = time.monotonic() + 15
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.exists(), f"the app did not exit; the pane shows:\n{tmux.screen()}"
    assert exit_file.read_text().strip() == "0"
    with pytest.raises(ProcessLookupError):
        os.kill(app_pid, 0)
