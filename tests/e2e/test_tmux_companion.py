"""The real `companion` command in a real terminal, on the real runtime and embedded model:
it reaches "model ready", takes typed text, and ctrl+q stops it and its model server child."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_tmux_app import ROOT, tmux  # noqa: F401 (the fixture)


def test_companion_runs_in_tmux_on_the_embedded_model_and_quits_cleanly(tmux, tmp_path):  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "walk.py").write_text("def walk(xs):\n    return xs\n")
    exit_file = tmp_path / "exit-status"
    command = (f"cd {repo} && PYTHONPATH={ROOT} {sys.executable} -m companion --no-mic "
               f"--no-screen --no-voice; echo $? > {exit_file}")
    tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "36", command)
    tmux.wait_for("model ready", timeout=90)
    tmux.wait_for("files 1 ")  # the watched-file count from FileWatch's scan
    pid = int(tmux.pane("pane_pid"))
    servers = subprocess.run(["pgrep", "-f", "-P", ",".join(
        subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()),
        "model_server"], capture_output=True, text=True).stdout.split()
    assert servers, "no model server child found"
    tmux("send-keys", "-t", "app", "hello companion", "Enter")
    tmux.wait_for("hello companion")
    tmux("send-keys", "-t", "app", "C-q")
    deadline = time.monotonic() + 30
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.read_text().strip() == "0"
    assert all(not Path(f"/proc/{p}").exists() for p in servers), "model server left running"
