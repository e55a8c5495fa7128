"""The HTTP API's request parsing and response bodies (SGLang-compatible /generate and
/open_session), kept apart from the aiohttp plumbing in server.py.

Extensions beyond SGLang (docs/server-api.md): `input_embeds_positions` (partial embedding
replacement), `features` (dMel rows and screen tiles for the interaction model's front-end), `session_params.pin`, `open_session.window_tokens`, and meta_info's
`kv_tokens` / `evicted_tokens`.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import torch

from model_server.core import Req, RequestError, SamplingParams
from model_server.feature_embeds import FeatureError, feature_embeds
from model_server.grammar import grammar_for_request
from model_server.loader import LoadedModel

GENERATE_FIELDS = {"text", "input_ids", "input_embeds", "input_embeds_positions", "features",
                   "sampling_params", "session_params", "stream", "rid", "return_logprob",
                   "logprob_start_len", "top_logprobs_num", "return_text_in_logprobs"}
SESSION_FIELDS = {"id", "rid", "offset", "replace", "drop_previous_output", "pin"}
OPEN_FIELDS = {"capacity_of_str_len", "session_id", "streaming", "window_tokens"}


MAX_DEPTH = 16  # the deepest valid body (features.patches.xy) nests 4 levels


def check_json(body: Any) -> None:
    """Refuse, with the path, JSON that no route accepts and that would fail deep inside:
    nesting deeper than MAX_DEPTH and strings or keys with lone surrogates (not UTF-8).
    Iterative, so no body can exhaust the stack here."""
    stack = [(body, "body", 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad(f"{where}: JSON nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict):
            for k, v in value.items():
                _check_text(k, f"{where} key")
                stack.append((v, f"{where}.{k}", depth + 1))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise bad(f"{where[:80]}: invalid Unicode: lone surrogate {text[e.start]!r} at "
                  f"index {e.start} (send UTF-8 text)") from None


_MAX_TOKEN_CHARS: dict[int, int] = {}


def longest_token_chars(model: LoadedModel) -> int:
    """The most characters one token of the model's vocabulary spells (cached per model)."""
    key = id(model.tokenizer)
    if key not in _MAX_TOKEN_CHARS:
        _MAX_TOKEN_CHARS[key] = max(map(len, model.tokenizer.get_vocab()), default=1)
    return _MAX_TOKEN_CHARS[key]


def bad(message: str) -> RequestError:
    return RequestError(400, message)


def require_object(body: Any, what: str) -> dict:
    if not isinstance(body, dict):
        raise bad(f"{what}: the body must be a JSON object")
    return body


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_open_session(body: Any) -> dict:
    body = require_object(body, "/open_session")
    unknown = sorted(set(body) - OPEN_FIELDS)
    if unknown:
        raise bad(f"/open_session: unknown field(s) {unknown}; supported: {sorted(OPEN_FIELDS)}")
    cap = body.get("capacity_of_str_len", 0)
    if not is_int(cap) or cap < 0:
        raise bad(f"capacity_of_str_len must be an integer >= 0, got {cap!r}")
    sid = body.get("session_id")
    if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > 128):
        raise bad("session_id must be a non-empty string of at most 128 characters")
    window = body.get("window_tokens")
    if window is not None and (not is_int(window) or window <= 0):
        raise bad(f"window_tokens must be an integer > 0, got {window!r}")
    return {"session_id": sid, "window": window, "capacity_of_str_len": cap}


def parse_session_id(body: Any) -> str:
    body = require_object(body, "/close_session")
    sid = body.get("session_id")
    if not isinstance(sid, str) or not sid:
        raise bad("/close_session needs {\"session_id\": \"<id>\"}")
    return sid


def too_long(n: int, max_chunk_tokens: int, what: str) -> RequestError:
    return RequestError(413, f"{what} ({n}) is over the limit of {max_chunk_tokens} tokens per "
                             "request")


def _input_ids(body: dict, model: LoadedModel, max_chunk_tokens: int) -> list[int]:
    vocab = model.config.vocab_size
    if "input_ids" in body:
        ids = body["input_ids"]
        if not isinstance(ids, list) or (ids and isinstance(ids[0], list)):
            raise bad("input_ids must be a flat list of token ids (batched requests are not "
                      "supported: send one request per session)")
        if len(ids) > max_chunk_tokens:
            raise too_long(len(ids), max_chunk_tokens, "input_ids")
        if not all(is_int(t) and 0 <= t < vocab for t in ids):
            raise bad(f"input_ids must be integers in [0, {vocab})")
        return ids
    text = body["text"]
    if not isinstance(text, str):
        raise bad("text must be a string (batched requests are not supported)")
    if model.tokenizer is not None and len(text) > _prefix_chars(model, max_chunk_tokens):
        # a 15 MB text must not cost a 15 s tokenization: its head alone, if already over
        # the limit, decides (the cut changes the count by a token or so at most)
        head = len(_encode(model, text[:_prefix_chars(model, max_chunk_tokens)]))
        if head > max_chunk_tokens + 8:
            raise RequestError(413, f"text of {len(text)} characters is over the limit of "
                                    f"{max_chunk_tokens} tokens per request (its first "
                                    f"{_prefix_chars(model, max_chunk_tokens)} characters "
                                    f"alone are {head} tokens)")
    return _encode(model, text)


def _prefix_chars(model: LoadedModel, max_chunk_tokens: int) -> int:
    # a byte-level BPE token spells at most longest_token_chars characters; x2 for margin
    return max_chunk_tokens * longest_token_chars(model) * 2


def _encode(model: LoadedModel, text: str) -> list[int]:
    try:
        return model.encode(text)
    except ValueError as e:
        raise bad(str(e)) from None


def _embeds(body: dict, hidden: int, max_chunk_tokens: int) -> torch.Tensor:
    rows = body["input_embeds"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise bad("input_embeds must be a non-empty list of vectors")
    if len(rows) > max_chunk_tokens:
        raise too_long(len(rows), max_chunk_tokens, "input_embeds rows")
    for i, r in enumerate(rows):
        if len(r) != hidden:
            raise bad(f"input_embeds[{i}] has {len(r)} values; the model's hidden size is "
                      f"{hidden}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in r):
            raise bad(f"input_embeds[{i}] must hold finite numbers")
    return torch.tensor(rows, dtype=torch.float32)


def parse_generate(body: Any, model: LoadedModel,
                   max_chunk_tokens: int = 1 << 30) -> tuple[Req, bool]:
    """Build the Req of a /generate body (not yet admitted) and whether it streams.
    Inputs longer than max_chunk_tokens are refused (413) before any costly work."""
    body = require_object(body, "/generate")
    unknown = sorted(set(body) - GENERATE_FIELDS)
    if unknown:
        raise bad(f"/generate: unknown field(s) {unknown}; supported: {sorted(GENERATE_FIELDS)}")
    if body.get("return_logprob"):
        raise bad("return_logprob is not supported by this server")
    given = [k for k in ("text", "input_ids") if body.get(k) is not None]
    if len(given) > 1:
        raise bad("send either text or input_ids, not both")
    has_embeds = body.get("input_embeds") is not None
    positions = body.get("input_embeds_positions")
    if not given and not has_embeds:
        raise bad("empty input: send text, input_ids or input_embeds")
    embeds, embed_positions = None, ()
    if has_embeds:
        embeds = _embeds(body, model.config.hidden_size, max_chunk_tokens)
    if given:
        ids = _input_ids(body, model, max_chunk_tokens)
        if not ids:
            raise bad("empty input: the request has no tokens")
        if has_embeds:
            if positions is None:
                raise bad("input_embeds with input_ids/text needs input_embeds_positions "
                          "(which input tokens the vectors replace)")
            if not isinstance(positions, list) or len(positions) != len(embeds) or not all(
                    is_int(p) and 0 <= p < len(ids) for p in positions) \
                    or len(set(positions)) != len(positions):
                raise bad(f"input_embeds_positions must list {len(embeds)} distinct indices in "
                          f"[0, {len(ids)})")
            embed_positions = tuple(positions)
        if body.get("features") is not None:
            if has_embeds:
                raise bad("send either features or input_embeds, not both")
            try:
                embed_positions, embeds = feature_embeds(body["features"], ids, model.frontend)
            except FeatureError as e:
                raise bad(str(e)) from None
            if not embed_positions:
                embeds = None
    else:  # SGLang's form: the vectors are the whole input, one per position
        if positions is not None:
            raise bad("input_embeds_positions needs input_ids or text")
        ids = [0] * len(embeds)
        embed_positions = tuple(range(len(embeds)))
    try:
        sampling = SamplingParams.from_json(body.get("sampling_params"))
        sampling.check_vocab(model.config.vocab_size)
    except (ValueError, TypeError) as e:
        raise bad(str(e)) from None
    sp = body.get("session_params")
    session_id = prev_rid = pin = None
    if sp is not None:
        sp = require_object(sp, "session_params")
        unknown = sorted(set(sp) - SESSION_FIELDS)
        if unknown:
            raise bad(f"session_params: unknown field(s) {unknown}")
        if sp.get("offset") not in (None, 0) or sp.get("replace") or \
                sp.get("drop_previous_output"):
            raise bad("session_params offset/replace/drop_previous_output are not supported: "
                      "a streaming session only appends")
        session_id, prev_rid, pin = sp.get("id"), sp.get("rid"), sp.get("pin")
        if not isinstance(session_id, str) or not session_id:
            raise bad("session_params.id must be the session id from /open_session")
        if prev_rid is not None and not isinstance(prev_rid, str):
            raise bad("session_params.rid must be a string (the previous meta_info.id) or null")
        if pin is not None and not isinstance(pin, bool):
            raise bad("session_params.pin must be true or false")
    rid = body.get("rid") or uuid.uuid4().hex
    if not isinstance(rid, str):
        raise bad("rid must be a string")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad("stream must be true or false")
    req = Req(rid, ids, sampling, session_id, prev_rid=prev_rid, pin=pin,
              embed_positions=embed_positions, embed_rows=embeds)
    req.grammar = grammar_for_request(sampling, model)  # None unless ebnf/regex/json_schema
    return req, stream


def response_body(req: Req) -> dict:
    """The /generate result (and each SSE event: cumulative text and output_ids so far)."""
    return {
        "text": req.text,
        "output_ids": list(req.output_ids),
        "meta_info": {
            "id": req.rid,
            "finish_reason": req.finish_reason,
            "prompt_tokens": req.prompt_tokens,
            "completion_tokens": len(req.output_ids),
            "cached_tokens": req.cached_tokens,
            "kv_tokens": req.kv_tokens,
            "evicted_tokens": req.evicted_tokens,
        },
    }
