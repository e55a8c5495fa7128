"""Structure-aware fuzz of every route and field of the model server (issue 12): bodies built
from the API's own fields with nesting, unicode (lone surrogates included), numeric extremes
and malformed features. Every answer must be 2xx or 4xx with a message, come within a deadline,
and leave an innocent session, decoding concurrently, with exactly its reference tokens; at the
end no KV block is left once every session is closed."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import urllib.error
import urllib.request

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_server.core import EngineOptions
from model_server.engine import Engine, EngineCore
from model_server.loader import load_model
from model_server.server import make_app

DEADLINE_S = 20.0  # an answer later than this is a hang
TOKEN = "fuzz"
INNOCENT = {"text": "def walk(xs):", "sampling_params": {"max_new_tokens": 4, "temperature": 0,
                                                         "ignore_eos": True}}


@pytest.fixture(scope="module")
def server():
    model = load_model("embedded")
    engine = Engine(EngineCore(model, EngineOptions(max_sessions=6, max_chunk_tokens=96,
                                                    window_tokens=256, kv_budget_mb=2))).start()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(engine, TOKEN, max_body_bytes=256 * 1024))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield base, engine
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    engine.stop()


def call(base: str, method: str, path: str, data: bytes | None) -> tuple[int, bytes]:
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Innocent(threading.Thread):
    """Opens a session, decodes INNOCENT greedily, closes it, again and again: every answer must
    be 200 with the reference tokens while the fuzz runs beside it."""

    def __init__(self, base: str, reference: list[int]):
        super().__init__(daemon=True)
        self.base, self.reference = base, reference
        self.done, self.failures, self.turns = threading.Event(), [], 0

    def run(self) -> None:
        while not self.done.is_set():
            try:
                status, sid = call(self.base, "POST", "/open_session", b"{}")
                if status == 429:  # the fuzz holds every session slot: wait for a free one
                    self.done.wait(0.2)
                    continue
                sid = json.loads(sid)
                body = {**INNOCENT, "session_params": {"id": sid}}
                status, out = call(self.base, "POST", "/generate", json.dumps(body).encode())
                call(self.base, "POST", "/close_session",
                     json.dumps({"session_id": sid}).encode())
                ids = json.loads(out).get("output_ids") if status == 200 else None
                if ids != self.reference:
                    self.failures.append((status, out[:300]))
                self.turns += 1
            except Exception as e:  # noqa: BLE001 (a hang or a dropped connection is a failure)
                self.failures.append(repr(e))


TILE = base64.b64encode(bytes(40 * 40 * 3)).decode()
AUDIO = base64.b64encode(bytes(320)).decode()
surrogates = st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud83d"])
texts = st.one_of(st.text(max_size=40), surrogates,
                  st.sampled_from(["<|t|>1.0<|out|>", "<|see|><|patch|><|out|>",
                                   "<|hear|><|audio|><|out|>", "x" * 5000]))
extremes = st.sampled_from([0, -1, 1, 2, 8, 1e-300, 5e-324, 1e-45, 1e-38, 1e308, 0.5, 10**30,
                            2**63, -(2**63), True, False, None, "1", [], {}, float("inf"),
                            float("nan"), float("-inf")])
numbers = st.one_of(extremes, st.integers(-3, 10), st.floats(allow_nan=True, width=64))


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


deep = st.integers(1, 60).map(nested)
scalars = st.one_of(numbers, texts, st.booleans(), st.none())
anything = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12) | deep
xy = st.one_of(st.just([[0, 0]]), st.lists(st.lists(numbers | texts, max_size=3), max_size=3),
               anything)
shape = st.one_of(st.just([1, 40, 40, 3]), st.lists(numbers, max_size=5), anything)
patches = st.fixed_dictionaries({}, optional={"shape": shape, "xy": xy,
                                              "data": st.one_of(st.just(TILE), texts)})
audio = st.fixed_dictionaries({}, optional={
    "shape": st.one_of(st.just([1, 320]), st.lists(numbers, max_size=3)),
    "data": st.one_of(st.just(AUDIO), texts)})
features = st.one_of(st.fixed_dictionaries({}, optional={"audio": audio, "patches": patches}),
                     anything)
SAMPLING_FIELDS = {
    **{k: numbers for k in ("max_new_tokens", "temperature", "top_p", "top_k", "sampling_seed",
                            "min_p", "n")},
    "stop": st.one_of(texts, st.lists(texts, max_size=3), numbers),
    "stop_token_ids": st.one_of(st.lists(numbers, max_size=3), numbers),
    **{k: st.one_of(st.booleans(), numbers) for k in (
        "ignore_eos", "no_stop_trim", "skip_special_tokens", "spaces_between_special_tokens")},
    "bogus": anything}
# numerically hostile but valid sampling, the kind that once failed a whole batch
tiny = st.fixed_dictionaries({"max_new_tokens": st.integers(1, 4)}, optional={
    "temperature": st.sampled_from([1e-300, 5e-324, 1e-45, 1e-38, 1e-7, 0.5, 3.0]),
    "top_p": st.sampled_from([1e-300, 5e-324, 1e-38, 0.01, 1.0]),
    "top_k": st.sampled_from([-1, 1, 2, 4096, 10**30])})


def mutated(fields: dict, base: dict):
    """Structure-aware: a valid body with one or two of its fields replaced by fuzz."""
    keys = st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2, unique=True)
    return keys.flatmap(lambda ks: st.fixed_dictionaries({k: fields[k] for k in ks}).map(
        lambda changes: {**base, **changes}))


sampling = st.one_of(tiny, mutated(SAMPLING_FIELDS, {"max_new_tokens": 2}))
session_params = st.one_of(st.fixed_dictionaries({}, optional={
    "id": st.one_of(texts, numbers), "rid": st.one_of(texts, numbers, st.none()),
    "pin": st.one_of(st.booleans(), numbers), "offset": numbers, "replace": anything,
    "drop_previous_output": anything}), anything)
ids = st.one_of(st.lists(st.one_of(st.integers(0, 4095), numbers), max_size=20), anything)
embeds = st.one_of(st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=2),
                   st.just([[0.1] * 256]), anything)
GENERATE_FIELDS = {
    "text": texts, "input_ids": ids, "input_embeds": embeds,
    "input_embeds_positions": st.one_of(st.lists(numbers, max_size=3), anything),
    "features": features, "sampling_params": sampling | anything,
    "session_params": session_params, "stream": st.one_of(st.booleans(), numbers),
    "rid": st.one_of(texts, numbers), "return_logprob": st.one_of(st.booleans(), anything),
    "logprob_start_len": numbers, "top_logprobs_num": numbers, "unknown": anything}
VALID_GENERATE = {"text": "def walk(xs):", "sampling_params": {"max_new_tokens": 2}}
VALID_FEATURES = {"text": "<|see|><|patch|><|hear|><|audio|><|out|>", "sampling_params": {
    "max_new_tokens": 1}, "features": {"patches": {"shape": [1, 40, 40, 3], "data": TILE,
                                                   "xy": [[0, 0]]},
                                       "audio": {"shape": [1, 320], "data": AUDIO}}}
generate = st.one_of(
    mutated(GENERATE_FIELDS, VALID_GENERATE),
    st.fixed_dictionaries({"sampling_params": sampling}).map(lambda c: {**VALID_GENERATE, **c}),
    st.tuples(st.sampled_from(["audio", "patches"]), audio, patches).map(
        lambda t: {**VALID_FEATURES, "features": {
            **VALID_FEATURES["features"], t[0]: t[1] if t[0] == "audio" else t[2]}}),
    st.fixed_dictionaries({"features": features}).map(lambda c: {**VALID_FEATURES, **c}),
    st.fixed_dictionaries({}, optional=GENERATE_FIELDS))
open_session = mutated({
    "capacity_of_str_len": numbers, "session_id": st.one_of(texts, numbers),
    "streaming": st.one_of(st.booleans(), numbers), "window_tokens": numbers, "x": anything},
    {"streaming": True})
close_session = st.fixed_dictionaries({}, optional={"session_id": st.one_of(texts, numbers),
                                                    "y": anything})
requests = st.one_of(
    st.tuples(st.just("POST"), st.just("/generate"), generate),
    st.tuples(st.just("POST"), st.just("/generate"), anything),
    st.tuples(st.just("POST"), st.just("/open_session"), st.one_of(open_session, anything)),
    st.tuples(st.just("POST"), st.just("/close_session"), st.one_of(close_session, anything)),
    st.tuples(st.just("GET"), st.sampled_from(["/health", "/get_model_info",
                                               "/get_server_info"]), st.none()),
)
mangle = st.sampled_from(["json"] * 12 + ["truncated", "latin1", "empty", "deep"])


def encode(body, how: str) -> bytes:
    raw = json.dumps(body).encode("utf-8", "surrogatepass")  # lone surrogates as \\u escapes
    if how == "truncated":
        return raw[: len(raw) // 2]
    if how == "latin1":
        return b"\xff\xfe" + raw
    if how == "deep":  # 100k levels: past any recursive parser's stack
        return b"[" * 100_000 + b"]" * 100_000
    return b"" if how == "empty" else raw


@pytest.fixture(scope="module")
def innocent(server):
    base, _ = server
    _, sid = call(base, "POST", "/open_session", b"{}")
    sid = json.loads(sid)
    status, out = call(base, "POST", "/generate", json.dumps(
        {**INNOCENT, "session_params": {"id": sid}}).encode())
    call(base, "POST", "/close_session", json.dumps({"session_id": sid}).encode())
    assert status == 200
    runner = Innocent(base, json.loads(out)["output_ids"])
    runner.start()
    yield runner
    runner.done.set()
    runner.join(DEADLINE_S * 3)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(request=requests, how=mangle)
def test_fuzzed_requests_answer_2xx_or_4xx_in_time(server, innocent, request, how):
    base, _ = server
    method, path, body = request
    data = encode(body, how) if method == "POST" else None
    status, payload = call(base, method, path, data)  # raises on a hang (DEADLINE_S)
    assert status < 500, payload[:500]
    if status >= 400:
        assert json.loads(payload)["error"]["message"]
    elif path == "/generate" and payload.startswith(b"data:"):
        assert payload.rstrip().endswith(b"data: [DONE]")
    elif path == "/open_session":  # give the slot back: the innocent session needs one
        call(base, "POST", "/close_session", json.dumps({"session_id": json.loads(payload)})
             .encode())


def test_the_innocent_session_was_unaffected_and_nothing_leaked(server, innocent):
    base, engine = server
    innocent.done.set()
    innocent.join(DEADLINE_S * 3)
    assert innocent.turns >= 3 and innocent.failures == []
    for sid in list(engine.core.sessions.sessions):
        call(base, "POST", "/close_session", json.dumps({"session_id": sid}).encode())
    info = json.loads(call(base, "GET", "/get_server_info", None)[1])
    assert info["sessions"] == 0 and info["kv_blocks_used"] == 0
