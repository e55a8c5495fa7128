"""The fault-injection suite's harness: a real `companion --headless` process on a temp git
repository, its transcript read as it grows, and its embedded model server child found by pid
(and asked for /get_server_info with the token from its environment, a test-only peek)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout: float, what: str, poll: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def listening_port(pid: int) -> int | None:
    """The TCP port a process listens on (from /proc: its socket inodes in /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for row in rows:
        cols = row.split()
        if cols[3] == "0A" and cols[9] in inodes:
            return int(cols[1].split(":")[1], 16)
    return None


class Companion:
    """`python -m companion --headless` on a repository, with its transcript outside it."""

    def __init__(self, repo: Path, transcript: Path, *args: str) -> None:
        self.repo, self.transcript = repo, transcript
        self.servers: set[int] = set()  # every server child seen: none may outlive the test
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "companion", "--headless", "--no-mic", "--no-screen",
             "--no-voice", "--transcript", str(transcript), *args],
            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def lines(self) -> list[dict]:
        if not self.transcript.exists():
            return []
        out = []
        for line in self.transcript.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
        return out

    def model_turns(self) -> list[dict]:
        return [x for x in self.lines() if x["type"] == "model"]

    def turns(self) -> list[dict]:
        return [x for x in self.lines() if x["type"] == "turn"]

    def server_pid(self) -> int | None:
        """The live server child: the one listening (the other child, if any, is the spare)."""
        kids = children_of(self.proc.pid)
        self.servers.update(kids)
        live = [pid for pid in kids if listening_port(pid)]
        return live[0] if live else None

    def wait_live(self, turns: int = 3, timeout: float = 90) -> int:
        wait_until(lambda: len(self.model_turns()) >= turns, timeout, "the first model turns")
        return wait_until(self.server_pid, 10, "the server child")

    def server_info(self) -> dict:
        pid = self.server_pid()
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        token = next(e.split(b"=", 1)[1] for e in env if e.startswith(b"MODEL_SERVER_TOKEN="))
        port = wait_until(lambda: listening_port(pid), 30, "the server's port")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/get_server_info",
                                     headers={"Authorization": f"Bearer {token.decode()}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "walk.py").write_text("def walk(xs):\n    return xs\n")
    return repo


@pytest.fixture
def companion(repo, tmp_path):
    started: list[Companion] = []

    def start(*args: str) -> Companion:
        c = Companion(repo, tmp_path / "transcript.jsonl", *args)
        started.append(c)
        return c

    yield start
    for c in started:
        c.server_pid()
        c.stop()
        for server in c.servers:
            if alive(server):
                os.kill(server, signal.SIGKILL)


def save(repo: Path, i: int) -> str:
    """Save walk.py with a line no other save has; return that line."""
    marker = f"saved_edit_{i} = {i}"
    (repo / "walk.py").write_text(f"def walk(xs):\n    return xs\n\n{marker}\n")
    return marker


def delivered(c: Companion, marker: str) -> bool:
    """The marker reached the model: a turn that carried it was answered by a model turn."""
    answered = {m["tick"] for m in c.model_turns()}
    return any(marker in t["text"] and t["tick"] in answered for t in c.turns())
