"""ServerProcess: the embedded model server as a child process on loopback with a random token."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import sys
from collections import deque

LISTENING = re.compile(r"^model_server: listening on (?P<url>https?://\S+) token=(?P<token>\S+)$")


class ServerStartError(Exception):
    """The child model server did not come up; the message carries its last output."""


class ServerProcess:
    """Starts `python -m model_server` bound to 127.0.0.1 on a free port and watches it.

    The token is generated here and handed to the child in its environment (so it does not
    show in `ps`); the child prints `model_server: listening on URL token=T` once the model is
    loaded. The token line is kept out of `output`, which the UI may show.
    """

    def __init__(self, model: str = "embedded", *, extra_args: list[str] | None = None,
                 start_timeout_s: float = 120.0) -> None:
        self.model = model
        self.extra_args = extra_args or []
        self.start_timeout_s = start_timeout_s
        self.token = secrets.token_urlsafe(24)
        self.url: str | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.output: deque[str] = deque(maxlen=40)
        self._reader: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> str:
        """Start the child and return its base URL once it listens."""
        # MODEL_SERVER_PARENT_PID: the child dies with us, even if we are killed -9
        env = dict(os.environ, MODEL_SERVER_TOKEN=self.token, PYTHONUNBUFFERED="1",
                   MODEL_SERVER_PARENT_PID=str(os.getpid()))
        cmd = [sys.executable, "-m", "model_server", "--model", self.model,
               "--host", "127.0.0.1", "--port", "0", *self.extra_args]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_output(listening))
        try:
            self.url = await asyncio.wait_for(asyncio.shield(listening), self.start_timeout_s)
        except (asyncio.TimeoutError, ServerStartError) as exc:
            await self.stop()
            tail = "\n".join(self.output) or "(no output)"
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc)
            raise ServerStartError(f"model server did not start ({reason}):\n{tail}") from None
        return self.url

    async def _read_output(self, listening: asyncio.Future[str]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            match = LISTENING.search(line)
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

    async def stop(self, grace_s: float = 3.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), grace_s)
            except asyncio.TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            except ProcessLookupError:
                pass
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
