"""Run one external command asynchronously in its own process group, with a timeout and a capped log.

The command gets a new session (`start_new_session=True`), so a timeout or a cancellation can
signal the whole group: the test runner's own children (xdist workers, a server a test spawned)
die with it. SIGTERM first, SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.registry import ToolError

KILL_GRACE_S = 2.0
# after the leader exits, how long stragglers that still hold the pipe may keep writing
DRAIN_AFTER_EXIT_S = 1.0
CHUNK_BYTES = 64 * 1024


def tool_cache_dir(name: str) -> Path:
    """Where a command the agent runs keeps its cache ($XDG_CACHE_HOME/companion/NAME, default
    under ~/.cache), so that running it never writes into the user's repository."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "companion" / name


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended: exit code (None when killed), the tail of its output, and timing."""

    argv: tuple[str, ...]
    returncode: int | None
    output: str  # stdout and stderr interleaved; the last `output_cap` bytes
    truncated: bool  # earlier output was dropped to respect the cap
    timed_out: bool
    duration_s: float
    pid: int

    def last_lines(self, n: int = 15) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()][-n:]


class CappedLog:
    """Keeps the newest `cap` bytes of a stream of lines."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.truncated = False
        self._lines: deque[str] = deque()

    def add(self, line: str) -> None:
        self._lines.append(line)
        self.size += len(line)
        while self.size > self.cap and len(self._lines) > 1:
            self.size -= len(self._lines.popleft())
            self.truncated = True

    def text(self) -> str:
        return "".join(self._lines)


def kill_group(pgid: int, sig: int) -> bool:
    """Signal every process in the group; False when none is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def run_command(
    argv: Sequence[str],
    cwd: str | Path,
    *,
    timeout_s: float,
    on_line: Callable[[str], None] | None = None,
    output_cap: int = 256 * 1024,
    env: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    before_kill: Callable[[int], Awaitable[None]] | None = None,
) -> CommandResult:
    """Run `argv` in `cwd`; on timeout or cancellation the whole process group is killed.

    `before_kill(pid)` is awaited on a timeout, before the kill (the test runner asks for a
    stack dump there).

    Raises `ToolError` when the program cannot be started (not found, not executable, bad cwd).
    Cancellation propagates after the group is gone.
    """
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=env,
            start_new_session=True,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            raise ToolError(f"working directory does not exist: {cwd}") from None
        raise ToolError(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise ToolError(f"command is not executable: {argv[0]}") from None
    if on_start is not None:
        on_start(proc.pid)
    log = CappedLog(output_cap)

    async def read_lines() -> None:
        # chunks, not readline(): one line over the stream's 64 KiB limit must not stop the
        # reading (the child would then block on a full pipe until the timeout)
        assert proc.stdout is not None
        partial = b""
        while chunk := await proc.stdout.read(CHUNK_BYTES):
            *lines, partial = (partial + chunk).split(b"\n")
            while len(partial) > output_cap:  # an endless line is handed on in cap-sized pieces
                lines.append(partial[:output_cap])
                partial = partial[output_cap:]
            for raw in lines:
                emit(raw)
        if partial:
            emit(partial)

    def emit(raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace")
        log.add(line + "\n")
        if on_line is not None:
            on_line(line)

    reader = asyncio.ensure_future(read_lines())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
        # a grandchild may still hold the pipe open; read what is there, then stop waiting for it
        await asyncio.wait({reader}, timeout=DRAIN_AFTER_EXIT_S)
    except TimeoutError:
        timed_out = True
        if before_kill is not None:
            await before_kill(proc.pid)
        await _terminate(proc)
    except asyncio.CancelledError:
        await asyncio.shield(_terminate(proc))
        raise
    finally:
        kill_group(proc.pid, signal.SIGKILL)  # stragglers left behind by a leader that exited
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return CommandResult(
        argv=tuple(argv),
        returncode=None if timed_out else proc.returncode,
        output=log.text(),
        truncated=log.truncated,
        timed_out=timed_out,
        duration_s=time.monotonic() - start,
        pid=proc.pid,
    )


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    kill_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
    except TimeoutError:
        pass
    kill_group(proc.pid, signal.SIGKILL)
    await proc.wait()
