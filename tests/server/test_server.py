"""The HTTP API end to end: SGLang-compatible sessions, cached_tokens, SSE, auth, limits."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from model_server.core import EngineOptions
from model_server.engine import Engine, EngineCore
from model_server.loader import load_model
from model_server.server import make_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(text_model):
    engine = Engine(EngineCore(load_model(str(text_model[0])),
                               EngineOptions(max_sessions=3, max_chunk_tokens=64,
                                             window_tokens=200, kv_budget_mb=0.25))).start()
    app = make_app(engine, TOKEN, max_body_bytes=64 * 1024)
    async with TestClient(TestServer(app)) as c:
        yield c
    engine.stop()


async def post(client, path, body, headers=AUTH):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    r = await client.post(path, data=data, headers=headers)
    text = await r.text()
    return r.status, (json.loads(text) if text else None), r.headers


async def test_streaming_session_turns_and_cached_tokens(client, text_model):
    _, vocab = text_model
    end = vocab["<|end|>"]
    status, sid, _ = await post(client, "/open_session",
                                {"capacity_of_str_len": 1000, "streaming": True})
    assert status == 200 and isinstance(sid, str)
    status, r, _ = await post(client, "/generate", {
        "text": "w1 w2 w3 w4", "session_params": {"id": sid, "rid": None},
        "sampling_params": {"max_new_tokens": 0}})
    assert status == 200, r
    assert r["meta_info"]["prompt_tokens"] == 4 and r["meta_info"]["cached_tokens"] == 0
    prev = r
    for i in range(5):
        status, r, _ = await post(client, "/generate", {
            "input_ids": [5 + i, 6, 7], "session_params": {"id": sid,
                                                           "rid": prev["meta_info"]["id"]},
            "sampling_params": {"max_new_tokens": 4, "temperature": 0,
                                "stop_token_ids": [end]}})
        assert status == 200, r
        m, pm = r["meta_info"], prev["meta_info"]
        previous_total = pm["prompt_tokens"] + pm["completion_tokens"]
        assert m["prompt_tokens"] == previous_total + 3
        # SGLang semantics: previous prompt + completion, less the last sampled token whose
        # K/V is computed with this turn
        assert m["cached_tokens"] == previous_total - (1 if pm["completion_tokens"] else 0)
        assert 1 <= m["completion_tokens"] <= 4 and len(r["output_ids"]) == m["completion_tokens"]
        assert m["finish_reason"]["type"] in ("stop", "length")
        prev = r
    status, _, _ = await post(client, "/close_session", {"session_id": sid})
    assert status == 200
    status, r, _ = await post(client, "/generate", {
        "input_ids": [1], "session_params": {"id": sid, "rid": prev["meta_info"]["id"]}})
    assert status == 404 and "unknown session" in r["error"]["message"]


async def test_stream_sends_sse_events_and_done(client):
    r = await client.post("/generate", headers=AUTH, json={
        "input_ids": [3, 4, 5], "stream": True,
        "sampling_params": {"max_new_tokens": 5, "temperature": 0, "ignore_eos": True}})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    raw = (await r.read()).decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    bodies = [json.loads(e[6:]) for e in events[:-1]]
    assert [len(b["output_ids"]) for b in bodies] == [1, 2, 3, 4, 5]
    assert bodies[-1]["meta_info"]["finish_reason"] == {"type": "length", "length": 5}
    assert all(b["meta_info"]["finish_reason"] is None for b in bodies[:-1])
    # the same request without streaming gives the same tokens
    _, plain, _ = await post(client, "/generate", {
        "input_ids": [3, 4, 5],
        "sampling_params": {"max_new_tokens": 5, "temperature": 0, "ignore_eos": True}})
    assert plain["output_ids"] == bodies[-1]["output_ids"]


async def test_auth_required_except_health(client):
    status, r, _ = await post(client, "/open_session", {}, headers={})
    assert status == 401 and "bearer token" in r["error"]["message"]
    status, _, _ = await post(client, "/open_session", {},
                              headers={"Authorization": "Bearer nope"})
    assert status == 401
    assert (await client.get("/health")).status == 200
    info = await client.get("/get_model_info", headers=AUTH)
    assert (await info.json())["hidden_size"] == 64


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "malformed JSON"),
    ([1, 2], 400, "JSON object"),
    ({}, 400, "empty input"),
    ({"input_ids": []}, 400, "empty input"),
    ({"text": ""}, 400, "empty input"),
    ({"input_ids": [1], "text": "w1"}, 400, "either text or input_ids"),
    ({"input_ids": [1, 999]}, 400, "input_ids must be integers in [0, 101)"),
    ({"input_ids": [[1, 2]]}, 400, "batched"),
    ({"input_ids": [1], "sampling_params": {"temperature": -1}}, 400, "temperature"),
    ({"input_ids": [1], "sampling_params": {"top_p": 0}}, 400, "top_p"),
    ({"input_ids": [1], "sampling_params": {"max_new_tokens": "8"}}, 400, "max_new_tokens"),
    ({"input_ids": [1], "sampling_params": {"bogus": 1}}, 400, "unknown field"),
    ({"input_ids": [1], "sampling_params": {"sampling_seed": 2**70}}, 400, "sampling_seed"),
    ({"input_ids": [1], "sampling_params": {"stop": [""]}}, 400, "stop"),
    ({"input_ids": [1], "sampling_params": {"n": 2}}, 400, "n=1"),
    ({"input_ids": [1], "sampling_params": {"max_new_tokens": 10**9}}, 413, "over the"),
    ({"input_ids": [1], "session_params": {"id": "x", "replace": True}}, 400, "only appends"),
    ({"input_ids": [1], "stream": "yes"}, 400, "stream must be"),
    ({"input_ids": [1], "bogus": 1}, 400, "unknown field"),
    ({"input_ids": [1] * 65}, 413, "over the limit of 64 tokens"),
    ({"input_ids": [1], "session_params": {"id": "nope"}}, 404, "unknown session"),
    ({"input_ids": [1], "input_embeds": [[0.0] * 64]}, 400, "input_embeds_positions"),
    ({"input_ids": [1], "input_embeds": [[0.0] * 3], "input_embeds_positions": [0]}, 400,
     "hidden size is 64"),
])
async def test_bad_generate_requests_get_4xx_with_a_message(client, body, status, words):
    got, r, _ = await post(client, "/generate", body)
    assert got == status, r
    assert words in r["error"]["message"]


async def test_wrong_rid_and_limits(client):
    sids = [(await post(client, "/open_session", {}))[1] for _ in range(3)]
    status, r, headers = await post(client, "/open_session", {})
    assert status == 429 and "too many sessions" in r["error"]["message"]
    assert int(headers["Retry-After"]) >= 1
    status, r, _ = await post(client, "/generate", {"input_ids": [1, 2],
                                                    "session_params": {"id": sids[0]}})
    assert status == 200
    status, r2, _ = await post(client, "/generate", {
        "input_ids": [1], "session_params": {"id": sids[0], "rid": "not-the-last"}})
    assert status == 400 and r["meta_info"]["id"] in r2["error"]["message"]
    big = json.dumps({"input_ids": [1] * 40000})
    status, r, _ = await post(client, "/generate", big)
    assert status == 413 and "body over the limit" in r["error"]["message"]
    # the KV budget (0.25 MiB = 32 blocks of 16 here) refuses what cannot fit, with Retry-After
    status, r, _ = await post(client, "/generate", {
        "input_ids": [1] * 64, "sampling_params": {"max_new_tokens": 600}})
    assert status == 413 and "KV budget" in r["error"]["message"]
    for sid in sids:
        assert (await post(client, "/close_session", {"session_id": sid}))[0] == 200


async def test_concurrent_sessions_share_steps_and_match_alone(text_model):
    """Through the engine thread, three sessions' turns batch together; in batch-invariant
    mode each gets exactly the tokens it gets alone."""
    import asyncio

    engine = Engine(EngineCore(load_model(str(text_model[0])),
                               EngineOptions(batch_invariant=True, split_size=32))).start()
    app = make_app(engine, TOKEN, max_body_bytes=1 << 20)
    sampling = {"max_new_tokens": 6, "temperature": 0.7, "sampling_seed": 5, "ignore_eos": True}
    prompts = [[1, 2, 3], list(range(10, 50)), [7] * 17]
    async with TestClient(TestServer(app)) as c:
        async def turn(ids):
            _, sid, _ = await post(c, "/open_session", {})
            _, r, _ = await post(c, "/generate", {"input_ids": ids, "sampling_params": sampling,
                                                  "session_params": {"id": sid}})
            return r["output_ids"]

        alone = [await turn(p) for p in prompts]
        steps_before = engine.core.stats.steps
        together = await asyncio.gather(*(turn(p) for p in prompts))
        batched_steps = engine.core.stats.steps - steps_before
    engine.stop()
    assert together == alone
    assert batched_steps < 3 * 6  # they shared steps rather than running one after another


def test_kv_full_is_429_with_retry_after_and_live_sessions_stay(text_model):
    from model_server.core import Req, RequestError, SamplingParams

    core = EngineCore(load_model(str(text_model[0])), EngineOptions(kv_budget_mb=0.25))
    held = []
    for i in range(3):  # 3 sessions x 10 blocks of the 32
        s = core.sessions.open()
        req = Req(f"h{i}", [1] * 160, SamplingParams(max_new_tokens=0), s.id)
        core.add_request(req)
        core.step()
        held.append((s, list(s.blocks)))
    s = core.sessions.open()
    try:
        core.add_request(Req("x", [1] * 40, SamplingParams(max_new_tokens=0), s.id))
    except RequestError as e:
        assert e.status == 429 and e.retry_after and "KV cache full" in e.message
    else:
        raise AssertionError("expected a 429")
    assert not s.busy and s.blocks == []
    for live, blocks in held:
        assert live.id in core.sessions.sessions and live.blocks == blocks and live.kv_len == 160
