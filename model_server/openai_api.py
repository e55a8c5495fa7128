"""OpenAI-compatible `/v1/chat/completions` (streamed as SSE or whole) on the same engine.

So a GPU box running our server can answer the companion's "why?" questions as SGLang, vLLM,
Ollama or llama.cpp would. Messages become one prompt through the model's chat template
(`chat_template` in tokenizer_config.json, rendered with jinja2) or, for a model without one,
"role: content" lines ending in "assistant:". Each request is a one-off temporary session.
Fields OpenAI clients send that change nothing here (`user`, `presence_penalty`, ...) are
accepted; ones we cannot honour (`n` > 1, tools, logprobs) are a 400 that says so.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

from model_server.core import Req, RequestError, SamplingParams
from model_server.http_context import ENGINE, read_json

UNSUPPORTED = ("tools", "tool_choice", "functions", "logprobs", "top_logprobs", "response_format")
ROLES = ("system", "user", "assistant")


def bad(message: str) -> RequestError:
    return RequestError(400, message)


def parse_messages(body: dict) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list of {\"role\", \"content\"} objects")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise bad(f"messages[{i}].role must be one of {list(ROLES)}")
        content = m.get("content")
        if isinstance(content, list):  # the parts form: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise bad(f"messages[{i}].content must be a string")
        out.append({"role": m["role"], "content": content})
    return out


def parse_sampling(body: dict, vocab: int) -> SamplingParams:
    for name in UNSUPPORTED:
        if body.get(name):
            raise bad(f"{name} is not supported by this server")
    if body.get("n", 1) != 1:
        raise bad("n must be 1: this server returns one choice")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    params: dict[str, Any] = {"stop": list(stop)}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        params["max_new_tokens"] = max_tokens
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            params[name] = body[name]
    if body.get("seed") is not None:
        params["sampling_seed"] = body["seed"]
    if body.get("logit_bias") is not None:
        params["logit_bias"] = body["logit_bias"]
    try:
        sampling = SamplingParams.from_json(params)
        sampling.check_vocab(vocab)
    except (ValueError, TypeError) as e:
        raise bad(str(e)) from None
    return sampling


@lru_cache(maxsize=4)
def _chat_template(model_dir: Path) -> str | None:
    try:
        config = json.loads((model_dir / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return None
    template = config.get("chat_template")
    return template if isinstance(template, str) else None


def render_prompt(model_dir: Path, messages: list[dict[str, str]]) -> str:
    template = _chat_template(model_dir)
    if template is None:
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:"
    import jinja2

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


def _finish(req: Req) -> str | None:
    reason = req.finish_reason
    if reason is None:
        return None
    return "length" if reason.get("type") == "length" else "stop"


def _chunk(cid: str, model: str, created: int, delta: dict, finish: str | None) -> bytes:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad("/v1/chat/completions: the body must be a JSON object")
    engine = request.app[ENGINE]
    loaded = engine.core.model
    messages = parse_messages(body)
    sampling = parse_sampling(body, loaded.config.vocab_size)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad("stream must be true or false")
    try:
        ids = loaded.encode(render_prompt(Path(loaded.path), messages))
    except ValueError as e:
        raise bad(str(e)) from None
    if not ids:
        raise bad("the messages encode to no tokens")
    model_name = str(body.get("model") or Path(loaded.path).name)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    req = Req(cid, ids, sampling)
    if not stream:
        done = await asyncio.wrap_future(engine.submit(req))
        return web.json_response({
            "id": cid, "object": "chat.completion", "created": created, "model": model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": done.text},
                         "finish_reason": _finish(done)}],
            "usage": {"prompt_tokens": done.prompt_tokens,
                      "completion_tokens": len(done.output_ids),
                      "total_tokens": done.prompt_tokens + len(done.output_ids)},
        })
    loop = asyncio.get_running_loop()
    texts: asyncio.Queue = asyncio.Queue()
    req.on_token = lambda r: loop.call_soon_threadsafe(texts.put_nowait, (r.text, _finish(r)))
    fut = asyncio.wrap_future(engine.submit(req))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    await resp.write(_chunk(cid, model_name, created, {"role": "assistant", "content": ""}, None))
    sent, finish = "", None
    while finish is None:
        getter = asyncio.ensure_future(texts.get())
        await asyncio.wait({fut, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            text, finish = getter.result()
        else:  # finished (or failed) without a last token event
            getter.cancel()
            if fut.exception() is not None:
                message = str(fut.exception())
                await resp.write(b"data: " + json.dumps({"error": {"message": message}}).encode()
                                 + b"\n\n")
                break
            text, finish = fut.result().text, _finish(fut.result()) or "stop"
        if len(text) > len(sent):
            await resp.write(_chunk(cid, model_name, created, {"content": text[len(sent):]},
                                    None))
            sent = text
    if finish is not None:
        await resp.write(_chunk(cid, model_name, created, {}, finish))
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def list_models(request: web.Request) -> web.Response:
    name = Path(request.app[ENGINE].core.model.path).name
    return web.json_response({"object": "list", "data": [
        {"id": name, "object": "model", "created": 0, "owned_by": "companion"}]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
