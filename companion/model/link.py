"""ModelLink: the connection to the interaction model — an embedded child server or a URL.

It owns the child process (if any), the SessionClient and the session. When the server
fails, `recover()` restarts the child if it died, reopens the session, and tells the caller
to re-prime it; every state change is a StreamState(stream="model") event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from companion.core.events import Event, StreamState
from companion.model.server_process import ServerProcess, ServerStartError
from companion.model.session_client import RETRY_AFTER_CAP, ServerError, SessionClient


class ModelLink:
    def __init__(self, emit: Callable[[Event], None], *, server_url: str | None = None,
                 token: str | None = None, model: str = "embedded",
                 server_args: list[str] | None = None, protocol: int | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._emit = emit
        self._sleep = sleep  # the reconnect backoff's wait; injected so tests run it on fake time
        self._protocol = protocol  # for servers that do not report one (SGLang)
        self._external = server_url
        self._token = token
        # the pinned prefix (system text, rules, tools) goes as one request: allow it room
        # the embedded model was trained on 1536-token windows: prefix (~600) + recent turns
        args = ["--max-chunk-tokens", "2048", "--window-tokens", "900", *(server_args or [])]
        self.process = None if server_url else ServerProcess(model, extra_args=args)
        self.client: SessionClient | None = None
        self.info: dict = {}
        self.restarts = 0

    @property
    def accepts_features(self) -> bool:
        return bool(self.info.get("accepts_features"))

    @property
    def protocol(self) -> int:
        """The model's interaction protocol: get_model_info's `protocol`, else the one given
        (`--protocol`, for SGLang, which does not serve our prompt.json), else 1."""
        declared = self.info.get("protocol")
        if declared in (1, 2):
            return declared
        return self._protocol or 1

    @property
    def logit_bias(self) -> dict[str, float] | None:
        """The decision calibration the model ships in its prompt.json (`logit_bias`, SGLang's
        {"<token id>": bias}), sent with every decoded turn; None when it has none (SGLang,
        which serves no prompt.json, or a model without one)."""
        prompt = self.info.get("prompt") or {}
        bias = prompt.get("logit_bias") if isinstance(prompt, dict) else None
        return bias if isinstance(bias, dict) and bias else None

    def _state(self, status: str, reason: str = "", progress: float | None = None) -> None:
        self._emit(StreamState(time.monotonic(), "model", status, reason, progress))

    async def connect(self) -> None:
        """Start (or reach) the server and open a session; raises ServerError with the reason."""
        where = self._external or "embedded model server"
        self._state("degraded", f"loading {where}", progress=0.0)
        if self.process is not None:
            try:
                url = await self.process.start()
            except ServerStartError as exc:
                lines = [ln for ln in str(exc).splitlines() if ln.strip()]
                self._state("unavailable", " ".join(lines[:1] + lines[-1:]) if len(lines) > 1
                            else lines[0])
                raise ServerError(str(exc)) from exc
            token = self.process.token
        else:
            url, token = self._external, self._token
        if self.client is not None:
            await self.client.aclose()
        self.client = SessionClient(url, token)
        try:
            self.info = await self.client.model_info()
            await self.client.open()
        except ServerError as exc:
            self._state("unavailable", str(exc))
            raise
        name = self.info.get("model_path") or self.info.get("model") or where
        self._state("live", f"{name}", progress=1.0)

    async def recover(self, reason: str) -> None:
        """Bring the session back after a failure; waits and retries until it works.

        A dead child is restarted; a live server just gets a new session; a child that keeps
        failing while alive (hung) is restarted after three tries.
        """
        self._state("degraded", f"reconnecting: {reason}")
        delay, failures = 0.5, 0
        while True:
            try:
                child_down = self.process is not None and not self.process.running
                if child_down or self.client is None or (self.process is not None and failures >= 3):
                    if self.process is not None:
                        await self.process.stop(keep_spare=True)
                        self.restarts += 1
                    await self.connect()
                else:
                    await self.client.open()
                    self._state("live", "session reopened")
                return
            except ServerError as exc:
                failures += 1
                # a server that says when to come back (429/503 Retry-After) is asked no sooner,
                # up to the TurnLoop's cap, so one header cannot leave the companion deaf for long
                wait = max(delay, min(exc.retry_after or 0.0, RETRY_AFTER_CAP))
                self._state("degraded", f"reconnecting in {wait:.0f} s: {exc}".splitlines()[0])
                await self._sleep(wait)
                # our own child is cheap to ask again: a paused one (SIGSTOP) answers within
                # about 2 s of resuming; a remote server gets the longer backoff
                delay = min(delay * 2, 2.0 if self.process is not None else 10.0)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.process is not None:
            await self.process.stop()
        self._state("stopped")
