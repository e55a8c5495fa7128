"""SessionClient: one streaming session on a model server over its SGLang-compatible HTTP API.

The same client talks to our model_server and to an SGLang server started with
`--enable-streaming-session`. Each micro-turn is one `/generate` that appends to the session;
`rid` chains it to the previous turn so the server keeps the whole sequence in its KV cache.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from companion.core.events import Patch

# A 429/503's Retry-After is honoured up to this long (by the TurnLoop between turns, by the
# ModelLink between reconnects); a server asking for more still gets a try every RETRY_AFTER_CAP
# seconds, so the companion is not deaf for minutes on one header.
RETRY_AFTER_CAP = 10.0

def retry_after_s(header: str | None) -> float | None:
    """A Retry-After header in seconds from now: delay-seconds or an HTTP-date (RFC 9110);
    None when absent or unreadable (a malformed header is no reason to fail the request's error)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


class ServerError(Exception):
    """The model server answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class TurnResult:
    text: str
    output_ids: list[int]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    finish_reason: Any
    latency_ms: float
    meta: dict = field(default_factory=dict)


def encode_features(audio: np.ndarray, patches: list[Patch]) -> dict | None:
    """Feature rows for placeholder tokens, as the `features` extension field of /generate."""
    if len(audio) == 0 and not patches:
        return None
    out: dict[str, Any] = {}
    if len(audio):
        rows = np.ascontiguousarray(audio, dtype=np.uint8)
        out["audio"] = {"shape": list(rows.shape), "data": base64.b64encode(rows.tobytes()).decode()}
    if patches:
        pixels = np.ascontiguousarray(np.stack([p.pixels for p in patches]), dtype=np.uint8)
        out["patches"] = {"shape": list(pixels.shape),
                          "data": base64.b64encode(pixels.tobytes()).decode(),
                          "xy": [[p.x, p.y] for p in patches]}
    return out


def sampling_params(max_new_tokens: int, stop: list[str] | None = None,
                    ebnf: str | None = None, logit_bias: dict[str, float] | None = None) -> dict:
    """A micro-turn's `sampling_params`, in SGLang's field names: greedy, stop at `<|end|>`,
    special tokens kept; `ebnf` constrains the output to a grammar (the v2 action grammar);
    `logit_bias` ({"<token id>": bias}) is the model's own decision calibration."""
    params: dict[str, Any] = {"max_new_tokens": max_new_tokens, "temperature": 0.0,
                              "stop": stop or ["<|end|>"], "no_stop_trim": True,
                              "skip_special_tokens": False}
    if ebnf is not None:
        params["ebnf"] = ebnf
    if logit_bias:
        params["logit_bias"] = logit_bias
    return params


class SessionClient:
    """An asyncio client for one model server; holds at most one open session."""

    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = aiohttp.ClientSession(headers=headers,
                                           timeout=aiohttp.ClientTimeout(total=timeout_s))
        self.session_id: str | None = None
        self.last_rid: str | None = None
        self.abandoned: list[str] = []  # sessions we left that the server did not confirm closed

    async def _call(self, method: str, path: str, payload: dict | None = None,
                    timeout_s: float | None = None) -> Any:
        url = self.base_url + path
        # aiohttp reads an explicit timeout=None as "no timeout": pass the session's own default
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else self._http.timeout
        try:
            async with self._http.request(method, url, json=payload, timeout=timeout) as resp:
                body = await resp.text()
                if resp.status >= 400:
                    raise ServerError(f"{method} {path}: HTTP {resp.status}: {body.strip()[:300]}",
                                      status=resp.status,
                                      retry_after=retry_after_s(resp.headers.get("Retry-After")))
                return await resp.json(content_type=None) if body else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ServerError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    async def health(self) -> bool:
        try:
            await self._call("GET", "/health")
            return True
        except ServerError:
            return False

    async def model_info(self) -> dict:
        return await self._call("GET", "/get_model_info") or {}

    async def open(self, capacity_tokens: int = 65536) -> str:
        """Open a new session, closing the one this client held (and any it had to abandon
        earlier) so a reconnect never leaves sessions behind on the server."""
        await self.close_session()
        body = await self._call("POST", "/open_session",
                                {"streaming": True, "capacity_of_str_len": capacity_tokens})
        session_id = body if isinstance(body, str) else (body or {}).get("id", body)
        if not isinstance(session_id, str) or not session_id:
            raise ServerError(f"/open_session answered no session id: {body!r}")
        self.session_id, self.last_rid = session_id, None
        for old in list(self.abandoned):  # the server answers again: close what we left
            await self._close(old)
        return session_id

    async def generate(self, text: str, *, features: dict | None = None, max_new_tokens: int = 8,
                       stop: list[str] | None = None, extra: dict | None = None,
                       ebnf: str | None = None, logit_bias: dict[str, float] | None = None,
                       timeout_s: float | None = None, pin: bool | None = None) -> TurnResult:
        """Append `text` to the session and decode up to `max_new_tokens` (under `ebnf`);
        `timeout_s` replaces the client's own for this request (a long prefill); `pin` (our
        server's extension, sent only when given) adds the text to the session's pinned prefix."""
        if self.session_id is None:
            raise ServerError("no open session")
        payload: dict[str, Any] = {
            "text": text,
            "session_params": {"id": self.session_id, "rid": self.last_rid},
            "sampling_params": sampling_params(max_new_tokens, stop, ebnf, logit_bias),
        }
        if pin is not None:
            payload["session_params"]["pin"] = pin
        if features:
            payload["features"] = features
        payload |= extra or {}
        start = time.perf_counter()
        body = await self._call("POST", "/generate", payload, timeout_s=timeout_s)
        latency = (time.perf_counter() - start) * 1000
        meta = body.get("meta_info", {})
        self.last_rid = meta.get("id", self.last_rid)
        return TurnResult(text=body.get("text", ""), output_ids=body.get("output_ids", []),
                          prompt_tokens=meta.get("prompt_tokens", 0),
                          completion_tokens=meta.get("completion_tokens", 0),
                          cached_tokens=meta.get("cached_tokens", 0),
                          finish_reason=meta.get("finish_reason"), latency_ms=latency, meta=meta)

    async def close_session(self) -> None:
        if self.session_id is not None:
            session_id, self.session_id = self.session_id, None
            await self._close(session_id)

    async def _close(self, session_id: str) -> None:
        """Close a session; one the server cannot be asked about now is remembered as
        abandoned and closed on the next successful open (a 404 means it is gone already)."""
        try:
            await self._call("POST", "/close_session", {"session_id": session_id}, timeout_s=1.0)
        except ServerError as exc:
            if exc.status not in (404, 400, 401) and session_id not in self.abandoned:
                self.abandoned.append(session_id)
                return
        if session_id in self.abandoned:
            self.abandoned.remove(session_id)

    async def aclose(self) -> None:
        await self.close_session()
        await self._http.close()
