"""ServerProcess: the embedded model server as a child process on loopback with a random token.

It keeps one spare child ready (`model_server --standby`: torch imported, model and grammar
loaded, waiting for `start` on stdin before it allocates its KV cache), so replacing a crashed
server takes about 0.4 s instead of a cold start (import torch alone: 2 s idle, 8-10 s on a
loaded 2-core machine). The spare costs about 270 MB of memory; `spare=False` turns it off.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import sys
from collections import deque

SPARE_DELAY_S = 5.0  # the spare's start-up CPU waits until the live server has settled in
LISTENING = re.compile(r"^model_server: listening on (?P<url>https?://\S+) token=(?P<token>\S+)$")


class ServerStartError(Exception):
    """The child model server did not come up; the message carries its last output."""


class ServerProcess:
    """Starts `python -m model_server` bound to 127.0.0.1 on a free port and watches it.

    Each child gets a fresh token in its environment (so it does not show in `ps`) and prints
    `model_server: listening on URL token=T` once it listens; `token` is taken from that line,
    which is kept out of `output` (the UI may show it).
    """

    def __init__(self, model: str = "embedded", *, extra_args: list[str] | None = None,
                 start_timeout_s: float = 120.0, spare: bool = True) -> None:
        self.model = model
        self.extra_args = extra_args or []
        self.start_timeout_s = start_timeout_s
        self.token = ""  # the live child's, from its listening line
        self.url: str | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.output: deque[str] = deque(maxlen=40)
        self._reader: asyncio.Task | None = None
        self.keep_spare = spare
        self._spare: asyncio.subprocess.Process | None = None
        self._spare_task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def _spawn(self) -> asyncio.subprocess.Process:
        """A `--standby` child: it loads, then waits for `start` on its stdin."""
        # MODEL_SERVER_PARENT_PID: the child dies with us, even if we are killed -9
        env = dict(os.environ, MODEL_SERVER_TOKEN=secrets.token_urlsafe(24), PYTHONUNBUFFERED="1",
                   MODEL_SERVER_PARENT_PID=str(os.getpid()))
        cmd = [sys.executable, "-m", "model_server", "--model", self.model,
               "--host", "127.0.0.1", "--port", "0", "--standby", *self.extra_args]
        return await asyncio.create_subprocess_exec(
            *cmd, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    async def start(self) -> str:
        """Start the child (the ready spare if there is one) and return its base URL once it listens."""
        spare, self._spare = self._spare, None
        ready = spare is not None and spare.returncode is None
        self.proc = spare if ready else await self._spawn()
        assert self.proc.stdin is not None
        try:  # a standby reads it once loaded; one that is still loading finds it waiting
            self.proc.stdin.write(b"start\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died already: the reader reports how
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_output(listening))
        try:
            self.url = await asyncio.wait_for(asyncio.shield(listening), self.start_timeout_s)
        except (TimeoutError, ServerStartError) as exc:
            await self.stop()
            tail = "\n".join(self.output) or "(no output)"
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc)
            raise ServerStartError(f"model server did not start ({reason}):\n{tail}") from None
        if self.keep_spare and self._spare_task is None:
            self._spare_task = asyncio.create_task(self._prepare_spare(), name="spare server")
        return self.url

    async def _prepare_spare(self) -> None:
        """Spawn the spare after SPARE_DELAY_S. It is usable at once: a start while it still
        loads finds `start` waiting on its stdin (still sooner than a new cold child)."""
        try:
            await asyncio.sleep(SPARE_DELAY_S)
            self._spare = await self._spawn()
        except OSError:
            pass  # no spare: the next restart is a cold start, as without one
        finally:
            self._spare_task = None

    async def _read_output(self, listening: asyncio.Future[str]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            match = LISTENING.search(line)
            if line == "model_server: standby":
                continue
            if match is None:
                self.output.append(line)
            elif not listening.done():
                self.token = match.group("token")
                listening.set_result(match.group("url"))
        await self.proc.wait()
        if not listening.done():
            listening.set_exception(ServerStartError(f"exited with code {self.proc.returncode}"))

    async def wait(self) -> int:
        """Wait for the child to exit (a crash) and return its exit code."""
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self, grace_s: float = 3.0, keep_spare: bool = False) -> None:
        """Stop the live child; the spare too unless `keep_spare` (a restart will use it)."""
        if not keep_spare:
            if self._spare_task is not None:
                self._spare_task.cancel()
                self._spare_task = None
            spare, self._spare = self._spare, None
            if spare is not None and spare.returncode is None:
                assert spare.stdin is not None
                spare.stdin.close()  # it exits on EOF; killed if it does not
                try:
                    await asyncio.wait_for(spare.wait(), grace_s)
                except TimeoutError:
                    spare.kill()
                    await spare.wait()
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            except ProcessLookupError:
                pass
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
