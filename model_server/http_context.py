"""What every route reads: the app's keys (engine, token, body limit) and the size-checked JSON body."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from model_server import api
from model_server.api import check_json
from model_server.core import RequestError
from model_server.engine import Engine

ENGINE = web.AppKey("engine", Engine)
TOKEN = web.AppKey("token", str)
MAX_BODY = web.AppKey("max_body", int)



def decode_json(raw: bytes):
    """The body as JSON, checked for what json.loads lets through (deep nesting, lone
    surrogates, 5000-digit integers): each is a 400 with a message, never a 500."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise RequestError(400, "malformed JSON body: nested too deeply (at most "
                                f"{api.MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise RequestError(400, f"malformed JSON body: {e}") from None
    check_json(body)
    return body


async def read_json(request: web.Request):
    """Refuse a body over the limit by its Content-Length before reading it (aiohttp also cuts
    off a body without one at the limit while streaming); decode it off the event loop."""
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise RequestError(413, f"request body over the limit of {limit} bytes (Content-Length "
                                f"{request.content_length})")
    raw = await request.read()
    return await asyncio.get_running_loop().run_in_executor(None, decode_json, raw)
