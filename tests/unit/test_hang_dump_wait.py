"""`dump_stacks` waits for the whole stack dump before the kill, even when the child writes it
slowly (a loaded machine pauses it between faulthandler's many small writes)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from tools.pytest_details import dump_stacks, read_hang

# A child that answers SIGUSR1 as a starved one would: part of the dump, a pause, the rest.
CHILD = r"""
import signal, sys, time
path = sys.argv[1]
def dump(signum, frame):
    with open(path, "a") as f:
        f.write("Thread 0x01 (most recent call first):\n")
        f.flush()
        time.sleep(0.15)
        f.write('  File "/p/mini_bisect.py", line 45 in bisect_right\n')
signal.signal(signal.SIGUSR1, dump)
print("armed", flush=True)
time.sleep(30)
"""


def test_a_dump_written_in_slow_parts_is_read_whole(tmp_path: Path):
    hang = tmp_path / "failures.jsonl.hang"
    hang.write_text("")  # the plugin creates it when it arms
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(hang)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "armed"
        started = time.monotonic()
        asyncio.run(dump_stacks(tmp_path, child.pid))
        waited = time.monotonic() - started
        _, dump = read_hang(tmp_path)
        assert "line 45 in bisect_right" in dump, dump
        assert waited < 2.0  # it returns once the dump has settled, not at the deadline
    finally:
        child.kill()
        child.wait()


def test_a_run_that_never_armed_is_not_waited_for(tmp_path: Path):
    started = time.monotonic()
    asyncio.run(dump_stacks(tmp_path, 999_999))
    assert time.monotonic() - started < 0.1
