"""ReasoningClient: streams an answer from an OpenAI-compatible `/v1/chat/completions` endpoint.

Used for "why does it fail?": SGLang, vLLM, Ollama, llama.cpp's server and `companion serve`
all speak this. Every way it can go wrong ends in a `ReasoningError` whose message can be shown
and said as is: not configured, switched off, a missing API key variable, an unreachable
endpoint, an HTTP error with the server's message, no answer within the timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable

import aiohttp

from companion.rules.schema import ReasoningConfig

FIRST_BYTE_SHARE = 0.5  # of the timeout, for the first token: a stuck server is named early


class ReasoningError(Exception):
    """Why no answer came; the message is meant for the user."""


def completions_url(endpoint: str) -> str:
    """`http://h:30000/v1` or `http://h:30000` → `http://h:30000/v1/chat/completions`."""
    url = endpoint.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/chat/completions"


def check_config(config: ReasoningConfig) -> dict[str, str]:
    """The request headers, or a ReasoningError that says what to set in the rules file."""
    if not config.enabled:
        raise ReasoningError(
            "explanations are off: set enabled = true in the [reasoning] table of .companion.toml")
    missing = [k for k in ("endpoint", "model") if not getattr(config, k)]
    if missing:
        raise ReasoningError(
            f"reasoning is not configured: set {' and '.join(missing)} in the [reasoning] table")
    if not config.endpoint.startswith(("http://", "https://")):
        raise ReasoningError(f"the reasoning endpoint must be an http(s) URL: {config.endpoint}")
    headers = {"Content-Type": "application/json"}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env, "")
        if not key:
            raise ReasoningError(f"the API key variable {config.api_key_env} is not set")
        headers["Authorization"] = f"Bearer {key}"
    return headers


async def stream_answer(
    config: ReasoningConfig,
    messages: list[dict[str, str]],
    on_text: Callable[[str], None],
    *,
    max_tokens: int = 600,
) -> str:
    """Ask; `on_text` gets the whole answer so far after each streamed piece; returns it."""
    headers = check_config(config)
    url = completions_url(config.endpoint)
    body = {"model": config.model, "messages": messages, "stream": True,
            "max_tokens": max_tokens, "temperature": 0.2}
    answer: list[str] = []

    async def run() -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10,
                                        sock_read=config.timeout * FIRST_BYTE_SHARE)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(url, json=body, headers=headers) as resp:
            if resp.status != 200:
                raise ReasoningError(
                    f"the reasoning endpoint answered {resp.status}: "
                    f"{_error_text(await resp.text())}")
            async for raw in resp.content:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                piece = _delta(data)
                if piece:
                    answer.append(piece)
                    on_text("".join(answer))

    try:
        await asyncio.wait_for(run(), config.timeout)
    except TimeoutError:
        raise ReasoningError(
            f"the reasoning model did not answer within {config.timeout:g} seconds") from None
    except aiohttp.ClientConnectorError as exc:
        raise ReasoningError(f"cannot reach the reasoning endpoint {url}: {exc.strerror or exc}") \
            from None
    except aiohttp.ClientError as exc:
        raise ReasoningError(f"the reasoning endpoint failed: {type(exc).__name__}: {exc}") \
            from None
    text = "".join(answer).strip()
    if not text:
        raise ReasoningError("the reasoning model sent an empty answer")
    return text


def _delta(data: str) -> str:
    try:
        event = json.loads(data)
    except ValueError:
        return ""
    if isinstance(event, dict) and event.get("error"):
        raise ReasoningError(f"the reasoning endpoint failed: {_error_text(json.dumps(event))}")
    try:
        return event["choices"][0]["delta"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def _error_text(text: str) -> str:
    try:
        error = json.loads(text).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = text
    return " ".join(str(message).split())[:200] or "no message"
