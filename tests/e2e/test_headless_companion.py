"""The whole companion, headless, on the embedded model server: perception -> micro-turns -> model.

Real pieces throughout: a temp git repository, FileWatch, the clock, the model server child with
the shipped weights, the session client, the agent. Assertions are on protocol facts (every tick
sent, the diff in a turn, each turn answered, the child gone at exit), not on what the small model
chooses to say.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.core.events import ModelTurn, StreamState
from companion.perception import PerceptionOptions
from companion.runtime import Runtime, RuntimeOptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "walk.py").write_text("def walk(xs):\n    for i in range(len(xs)):\n        print(xs[i])\n")
    return tmp_path


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_headless_run_sends_every_tick_and_gets_every_turn_answered(repo):
    proc = subprocess.Popen(
        [sys.executable, "-m", "companion", "--headless", "--seconds", "9", "--no-mic",
         "--no-screen", "--no-voice"],
        cwd=repo, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not children_of(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    server_pids = children_of(proc.pid)
    time.sleep(4)
    (repo / "walk.py").write_text("def walk(xs):\n    for i in range(len(xs) - 1):\n        print(xs[i])\n")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in out.splitlines()]
    turns = [x for x in lines if x["type"] == "turn"]
    answers = [x for x in lines if x["type"] == "model"]
    states = [(x["stream"], x["status"]) for x in lines if x["type"] == "state"]
    assert ("model", "live") in states and ("files", "live") in states
    covered = sorted(t["tick"] + k for t in turns for k in range(t["ticks"]))
    assert covered == list(range(len(covered))), "ticks missing or repeated"
    assert any("-    for i in range(len(xs)):" in t["text"] and "<|file|>walk.py" in t["text"]
               for t in turns)
    answered = {a["tick"] for a in answers}
    sent_after_ready = [t["tick"] for t in turns if t["tick"] >= min(answered)]
    assert answered >= set(sent_after_ready[:-1])  # the last may be cut by the stop
    assert all(a["action"] in ("silence", "speech", "stop", "call") for a in answers)
    assert server_pids and all(not Path(f"/proc/{p}").exists() for p in server_pids)


async def test_a_crashed_model_server_is_restarted_and_the_session_reprimed(repo):
    seen: list = []
    runtime = Runtime(RuntimeOptions(repo=repo, perception=PerceptionOptions(
        files=True, screen=False, mic=False, voice=False)))
    runtime.subscribe(seen.append)
    await runtime.start()
    try:
        async def until(predicate, timeout=60.0):
            end = time.monotonic() + timeout
            while not predicate():
                assert time.monotonic() < end, [e for e in seen if isinstance(e, StreamState)][-5:]
                await asyncio.sleep(0.05)

        await until(lambda: sum(isinstance(e, ModelTurn) for e in seen) >= 3)
        os.killpg(runtime.link.process.proc.pid, signal.SIGKILL)
        crashed_at = len(seen)
        await until(lambda: any(isinstance(e, StreamState) and e.stream == "model"
                                and e.status == "degraded" for e in seen[crashed_at:]))
        await until(lambda: sum(isinstance(e, ModelTurn) for e in seen[crashed_at:]) >= 3)
        assert runtime.link.restarts >= 1
        assert runtime.turn_loop._needs_prefix is False
    finally:
        await runtime.stop()
    assert runtime.link.process.proc is None
