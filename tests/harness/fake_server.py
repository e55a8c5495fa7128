"""FakeServer: a scripted SGLang-compatible model server on 127.0.0.1, for tests only.

A real aiohttp server on a random loopback port, so the real SessionClient's HTTP code runs
(status codes, Retry-After, dropped connections, timeouts). Each route answers from a queue of
scripted replies (`on(path, ...)`), else from `rule(body)` if set, else like a healthy server:
a session id per /open_session, silence for a turn that decodes, nothing for an append.

It keeps the semantics the client relies on (DESIGN §5): `session_params.rid` must name the
session's last request (else 400, as our server answers), `cached_tokens` is the previous turn's
prompt + completion, and a session answered with `lost_session()` stays gone (404 after that).

    async with FakeServer() as server:
        server.on("/generate", too_large(), ok("<|silence|><|end|>"))
        client = SessionClient(server.url, server.token)
        ...
        server.turns  # bodies of the /generate requests that decoded
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer

SILENCE = "<|silence|><|end|>"


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `text` None means the default (silence when the request decodes)."""

    status: int = 200
    text: str | None = None
    output_ids: list[int] | None = None
    meta: dict = field(default_factory=dict)  # merged over the computed meta_info
    body: object = None  # an exact JSON body instead of the computed one (open_session, info)
    message: str = ""
    retry_after: float | str | None = None  # a str goes out as the header verbatim
    drop: bool = False  # close the connection without answering
    hold: asyncio.Event | None = None  # answer only once this is set (a slow or hung server)
    forget_session: bool = False  # the session is gone from now on (a crash or a TTL expiry)


def ok(text: str | None = None, *, output_ids: list[int] | None = None, **meta) -> Reply:
    return Reply(text=text, output_ids=output_ids, meta=meta)


def too_large(message: str = "chunk of 999 tokens is over the limit of 96 tokens") -> Reply:
    return Reply(413, message=message)


def busy(message: str = "session 's1' is still running request 'r1'") -> Reply:
    return Reply(409, message=message)


def throttled(retry_after: float = 2, message: str = "KV cache full") -> Reply:
    return Reply(429, message=message, retry_after=retry_after)


def lost_session(message: str = "unknown session (closed, expired after 600 s idle)") -> Reply:
    return Reply(404, message=message, forget_session=True)


def dropped() -> Reply:
    return Reply(drop=True)


def held_until(event: asyncio.Event, reply: Reply | None = None) -> Reply:
    base = reply or Reply()
    return Reply(base.status, base.text, base.output_ids, base.meta, base.body, base.message,
                 base.retry_after, base.drop, event, base.forget_session)


@dataclass
class _Session:
    last_rid: str | None = None
    length: int = 0  # prompt + completion tokens held


@dataclass(frozen=True)
class Seen:
    path: str
    body: dict | None
    headers: dict


def fake_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: one token per 4 characters, at least one."""
    return max(1, (len(text) + 3) // 4) if text else 0


class FakeServer:
    def __init__(self, info: dict | None = None, token: str | None = "test-token") -> None:
        self.info = info if info is not None else {"model_path": "fake-model"}
        self.token = token
        self.seen: list[Seen] = []
        self.answered: list[dict] = []  # /generate bodies the server took (200), in order
        self.rule: Callable[[dict], Reply | None] | None = None  # consulted for /generate
        self._script: dict[str, deque[Reply]] = {}
        self.sessions: dict[str, _Session] = {}
        self.opened: list[str] = []  # session ids handed out, in order
        self.closed: list[str] = []  # session ids closed by the client, in order
        self._rids = itertools.count(1)
        self._server: TestServer | None = None
        self._holds: list[asyncio.Event] = []  # released on exit, so a failed test never hangs

    # --- scripting ----------------------------------------------------------------------------
    def on(self, path: str, *replies: Reply) -> FakeServer:
        """Queue replies for `path`: each request takes the next; then the default answers."""
        self._script.setdefault(path, deque()).extend(replies)
        return self

    def pending(self, path: str) -> int:
        return len(self._script.get(path, ()))

    # --- what was asked -----------------------------------------------------------------------
    def bodies(self, path: str) -> list[dict]:
        return [s.body for s in self.seen if s.path == path]

    @property
    def generates(self) -> list[dict]:
        return self.bodies("/generate")

    @property
    def turns(self) -> list[dict]:
        """/generate requests that decode (a micro-turn, or its last piece)."""
        return [b for b in self.generates if b["sampling_params"]["max_new_tokens"] > 0]

    @property
    def appends(self) -> list[dict]:
        """/generate requests that decode nothing (the prefix, recent context, earlier pieces)."""
        return [b for b in self.generates if b["sampling_params"]["max_new_tokens"] == 0]

    # --- the server ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "use `async with FakeServer() as server`"
        return str(self._server.make_url("")).rstrip("/")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/get_model_info", self._model_info)
        app.router.add_post("/open_session", self._open)
        app.router.add_post("/close_session", self._close)
        app.router.add_post("/generate", self._generate)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None
        for hold in self._holds:
            hold.set()
        await self._server.close()

    async def _record(self, request: web.Request) -> dict | None:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.path, body, dict(request.headers)))
        return body

    def _scripted(self, path: str) -> Reply | None:
        queue = self._script.get(path)
        return queue.popleft() if queue else None

    @staticmethod
    def _error(status: int, message: str, retry_after: float | str | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response({"error": {"message": message, "code": status}}, status=status,
                                 headers=headers)

    async def _answer(self, request: web.Request, reply: Reply | None) -> web.Response | None:
        """Apply the parts of a scripted reply every route shares; None: carry on normally."""
        if request.path != "/health" and self.token \
                and request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, "missing or wrong bearer token")
        if reply is None:
            return None
        if reply.hold is not None:
            self._holds.append(reply.hold)
            await reply.hold.wait()
        if reply.drop:
            request.transport.close()
            return web.Response()  # never reaches the client: the connection is gone
        if reply.status >= 400:
            return self._error(reply.status, reply.message or f"scripted {reply.status}",
                               reply.retry_after)
        if reply.body is not None:
            return web.json_response(reply.body)
        return None

    async def _health(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.path, None, dict(request.headers)))
        return await self._answer(request, self._scripted("/health")) or web.json_response({})

    async def _model_info(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.path, None, dict(request.headers)))
        answer = await self._answer(request, self._scripted("/get_model_info"))
        return answer or web.json_response(self.info)

    async def _open(self, request: web.Request) -> web.Response:
        await self._record(request)
        answer = await self._answer(request, self._scripted("/open_session"))
        if answer is not None:
            return answer
        self.opened.append(f"s{len(self.opened) + 1}")
        session_id = self.opened[-1]
        self.sessions[session_id] = _Session()
        return web.json_response(session_id)

    async def _close(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        answer = await self._answer(request, self._scripted("/close_session"))
        if answer is not None:
            return answer
        session_id = (body or {}).get("session_id")
        if self.sessions.pop(session_id, None) is None:
            return self._error(404, f"unknown session {session_id!r}")
        self.closed.append(session_id)
        return web.json_response(True)

    async def _generate(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        assert body is not None
        reply = self._scripted("/generate")
        if reply is None and self.rule is not None:
            reply = self.rule(body)
        params = body.get("session_params") or {}
        session = self.sessions.get(params.get("id"))
        if reply is not None and reply.forget_session:
            self.sessions.pop(params.get("id"), None)
        answer = await self._answer(request, reply)
        if answer is not None:
            return answer
        if session is None:
            return self._error(404, f"unknown session {params.get('id')!r}")
        if params.get("rid") != session.last_rid:
            return self._error(400, f"session_params.rid {params.get('rid')!r} is not the last "
                                    f"request of the session ({session.last_rid!r})")
        reply = reply or Reply()
        decode = body["sampling_params"]["max_new_tokens"] > 0
        text = reply.text if reply.text is not None else (SILENCE if decode else "")
        output_ids = reply.output_ids if reply.output_ids is not None else \
            list(range(fake_tokens(text)))
        prompt = session.length + fake_tokens(body.get("text", ""))
        rid = f"r{next(self._rids)}"
        finish = {"type": "stop", "matched": "<|end|>"} if text.endswith("<|end|>") else \
            {"type": "length", "length": len(output_ids)}
        meta = {"id": rid, "prompt_tokens": prompt, "completion_tokens": len(output_ids),
                "cached_tokens": session.length, "finish_reason": finish, **reply.meta}
        session.last_rid = meta["id"]
        self.answered.append(body)
        session.length = meta["prompt_tokens"] + meta["completion_tokens"]
        return web.json_response({"text": text, "output_ids": output_ids, "meta_info": meta})
