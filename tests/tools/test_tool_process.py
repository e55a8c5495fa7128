"""Commands run in their own process group: a timeout or a cancel kills the whole group."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from tools.process import run_command
from tools.registry import ToolError

# the child starts a grandchild, reports both pids, then hangs
SPAWNER = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def wait_until_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_output_and_exit_code(tmp_path):
    lines = []
    result = await run_command(
        [sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"],
        tmp_path,
        timeout_s=30,
        on_line=lines.append,
    )
    assert result.returncode == 3 and not result.timed_out
    assert lines == ["a", "b"] and result.last_lines() == ["a", "b"]


async def test_output_is_capped_to_the_newest_bytes(tmp_path):
    code = "for i in range(2000): print(f'line {i:05d}')"
    result = await run_command(
        [sys.executable, "-c", code], tmp_path, timeout_s=30, output_cap=1200
    )
    assert result.truncated
    assert len(result.output) <= 1200
    assert result.output.endswith("line 01999\n")


async def test_timeout_kills_the_whole_process_group(tmp_path):
    pids = []
    result = await run_command(
        [sys.executable, "-c", SPAWNER],
        tmp_path,
        timeout_s=1.5,
        on_line=lambda line: pids.append(int(line)),
    )
    assert result.timed_out and result.returncode is None
    assert len(pids) == 1
    assert await wait_until_gone(result.pid), "the command itself survived the timeout"
    assert await wait_until_gone(pids[0]), "the grandchild survived the timeout"


async def test_cancellation_kills_the_group_and_propagates(tmp_path):
    pids = []
    leader = []
    task = asyncio.ensure_future(
        run_command(
            [sys.executable, "-c", SPAWNER],
            tmp_path,
            timeout_s=60,
            on_line=lambda line: pids.append(int(line)),
            on_start=leader.append,
        )
    )
    while not pids:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until_gone(leader[0]) and await wait_until_gone(pids[0])


async def test_missing_program_and_directory_are_clear_errors(tmp_path):
    with pytest.raises(ToolError, match="command not found: no-such-runner-xyz"):
        await run_command(["no-such-runner-xyz"], tmp_path, timeout_s=5)
    with pytest.raises(ToolError, match="working directory does not exist"):
        await run_command([sys.executable, "-c", "0"], tmp_path / "missing", timeout_s=5)
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o644)
    with pytest.raises(ToolError, match="command is not executable"):
        await run_command([str(script)], tmp_path, timeout_s=5)


async def test_a_line_longer_than_the_stream_limit_does_not_stall_the_reading(tmp_path):
    code = "import sys; sys.stdout.write('x' * 300_000); print(); print('after')"
    lines = []
    result = await run_command(
        [sys.executable, "-c", code],
        tmp_path,
        timeout_s=30,
        on_line=lines.append,
        output_cap=100_000,
    )
    assert result.returncode == 0 and not result.timed_out
    assert lines[-1] == "after" and sum(len(line) for line in lines[:-1]) == 300_000
    assert len(result.output) <= 100_000 and result.output.endswith("after\n")
