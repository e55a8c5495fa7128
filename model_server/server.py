"""The HTTP server (aiohttp): SGLang-compatible routes in front of the engine thread.

Routes: POST /open_session, /generate, /close_session; GET /health, /get_model_info,
/get_server_info. Every route but /health needs `Authorization: Bearer <token>`. Errors are
`{"error": {"message": ..., "code": status}}`; 429 carries Retry-After.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

from model_server import api, openai_api
from model_server.api import parse_open_session, parse_session_id, response_body
from model_server.core import Req, RequestError
from model_server.engine import Engine
from model_server.http_context import ENGINE, MAX_BODY, TOKEN, read_json

log = logging.getLogger("model_server.server")
def error_response(status: int, message: str, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
    return web.json_response({"error": {"message": message, "code": status}}, status=status,
                             headers=headers)


@web.middleware
async def errors_and_auth(request: web.Request, handler):
    if request.path != "/health":
        sent = request.headers.get("Authorization", "")
        want = "Bearer " + request.app[TOKEN]
        if not hmac.compare_digest(sent.encode(), want.encode()):
            return error_response(401, "missing or wrong bearer token: send "
                                       "'Authorization: Bearer <token>'")
    try:
        return await handler(request)
    except RequestError as e:
        return error_response(e.status, e.message, e.retry_after)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text or e.reason
        if e.status == 413:
            message = f"request body over the limit of {request.app[MAX_BODY]} bytes"
        return error_response(e.status, message)
    except Exception as e:  # a bug: say so in the body, keep serving
        log.exception("internal error on %s", request.path)
        return error_response(500, f"internal error: {type(e).__name__}: {e}")


async def engine_call(request: web.Request, fn, *args):
    return await asyncio.wrap_future(request.app[ENGINE].call(fn, *args))


async def open_session(request: web.Request) -> web.Response:
    opts = parse_open_session(await read_json(request))
    core = request.app[ENGINE].core
    session = await engine_call(request, lambda: core.sessions.open(**opts))
    return web.json_response(session.id)


async def close_session(request: web.Request) -> web.Response:
    sid = parse_session_id(await read_json(request))
    await asyncio.wrap_future(request.app[ENGINE].close_session(sid))
    return web.Response(status=200)


async def generate(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    body = await read_json(request)
    # tokenizing and the feature front-end take time: off the loop, so /health stays live
    req, stream = await asyncio.get_running_loop().run_in_executor(
        None, api.parse_generate, body, engine.core.model, engine.core.opts.max_chunk_tokens)
    if not stream:
        done = await asyncio.wrap_future(engine.submit(req))
        return web.json_response(response_body(done))
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()

    def on_token(r: Req) -> None:  # engine thread: snapshot now, hand over to the loop
        body = response_body(r)
        loop.call_soon_threadsafe(events.put_nowait, body)

    req.on_token = on_token
    fut = asyncio.wrap_future(engine.submit(req))
    first = asyncio.ensure_future(events.get())
    await asyncio.wait({fut, first}, return_when=asyncio.FIRST_COMPLETED)
    if fut.done() and fut.exception() is not None:
        first.cancel()
        raise fut.exception()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    body = None
    failed = None
    while True:
        getter = first if first is not None else asyncio.ensure_future(events.get())
        first = None
        await asyncio.wait({fut, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            body = getter.result()
        else:  # finished without a last token event (aborted by close_session)
            getter.cancel()
            failed = fut.exception()
            body = response_body(fut.result()) if failed is None else None
        if failed is not None:  # the request failed mid-stream: say so before [DONE]
            status = getattr(failed, "status", 500)
            message = getattr(failed, "message", None) or f"{type(failed).__name__}: {failed}"
            error = {"error": {"message": message, "code": status}}
            await resp.write(b"data: " + json.dumps(error).encode() + b"\n\n")
        if body is not None:
            await resp.write(b"data: " + json.dumps(body).encode() + b"\n\n")
        if body is None or body["meta_info"]["finish_reason"] is not None:
            break
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def model_info(request: web.Request) -> web.Response:
    model = request.app[ENGINE].core.model
    cfg = model.config
    prompt = _prompt(model.path)
    return web.json_response({
        "model_path": str(model.path), "tokenizer_path": str(model.path),
        "is_generation": True, "architecture": cfg.family, "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size, "eos_token_ids": list(cfg.eos_token_ids),
        "dtype": str(model.dtype).removeprefix("torch."),
        "accepts_features": model.frontend is not None,
        "prompt": prompt,
        "protocol": model_protocol(model.path),  # docs/protocol.md: absent means 1
    })


def model_protocol(model_dir) -> int:
    """The interaction protocol a model declares in prompt.json; 1 when absent."""
    return (_prompt(model_dir) or {}).get("protocol", 1)


def _prompt(model_dir) -> dict | None:
    """The prefix texts a model was trained with (prompt.json beside its weights), if any."""
    path = model_dir / "prompt.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


async def server_info(request: web.Request) -> web.Response:
    core = request.app[ENGINE].core
    o, st = core.opts, core.stats
    return web.json_response({
        "max_sessions": o.max_sessions, "max_chunk_tokens": o.max_chunk_tokens,
        "window_tokens": o.window_tokens, "session_ttl_s": o.session_ttl_s,
        "kv_blocks_total": core.pool.num_blocks, "kv_blocks_used": core.pool.used,
        "block_size": o.block_size, "sessions": len(core.sessions.sessions),
        "attention_backend": o.attention_backend, "batch_invariant": o.batch_invariant,
        "steps": st.steps, "step_overhead_ms": 1000 * (st.step_s - st.forward_s)
        / max(st.steps, 1),
    })


def make_app(engine: Engine, token: str, max_body_bytes: int) -> web.Application:
    if not token:
        raise ValueError("the server needs a non-empty bearer token")
    app = web.Application(middlewares=[errors_and_auth], client_max_size=max_body_bytes)
    app[ENGINE], app[TOKEN], app[MAX_BODY] = engine, token, max_body_bytes
    app.router.add_post("/open_session", open_session)
    app.router.add_post("/close_session", close_session)
    app.router.add_post("/generate", generate)
    app.router.add_get("/health", health)
    app.router.add_get("/get_model_info", model_info)
    app.router.add_get("/get_server_info", server_info)
    openai_api.add_routes(app)  # /v1/chat/completions
    return app

