"""/v1/chat/completions on our server, and the agent's `explain` streamed from it end to end."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.sample_project import make_sample_project
from companion.agent.background import BackgroundAgent
from companion.agent.explain_request import first_sentence
from companion.rules.schema import ReasoningConfig
from model_server.core import EngineOptions
from model_server.engine import Engine, EngineCore
from model_server.loader import load_model
from model_server.server import make_app
from tools.on_save import OnSaveConfig, OnSaveRule

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASK = {"model": "tiny", "messages": [{"role": "system", "content": "w1 w2"},
                                     {"role": "user", "content": "w3 w4 w5"}],
       "max_tokens": 6, "temperature": 0}


@pytest.fixture
async def server(text_model):
    engine = Engine(EngineCore(load_model(str(text_model[0])),
                               EngineOptions(max_sessions=3, max_chunk_tokens=2048,
                                             window_tokens=4096, kv_budget_mb=2))).start()
    app = make_app(engine, TOKEN, max_body_bytes=256 * 1024)
    seen: list[dict] = []

    @web.middleware
    async def capture(request, handler):  # the requests as the server received them
        if request.path.startswith("/v1/"):
            seen.append(json.loads(await request.read()))
        return await handler(request)

    app.middlewares.append(capture)
    async with TestClient(TestServer(app)) as client:
        client.seen = seen
        yield client
    engine.stop()


def sse_chunks(raw: str) -> list:
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    return [json.loads(e[6:]) for e in events[:-1]]


async def test_streamed_deltas_join_to_the_whole_answer(server):
    r = await server.post("/v1/chat/completions", headers=AUTH, json={**ASK, "stream": True})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    chunks = sse_chunks((await r.read()).decode())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "tiny" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    whole = await server.post("/v1/chat/completions", headers=AUTH, json=ASK)
    body = await whole.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": streamed}
    assert body["usage"]["completion_tokens"] == 6 and streamed


@pytest.mark.parametrize(("change", "words"), [
    ({"n": 2}, "n must be 1"),
    ({"messages": []}, "messages must be a non-empty list"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "role must be one of"),
    ({"tools": [{"type": "function"}]}, "tools is not supported"),
    ({"max_tokens": -1}, "max_new_tokens"),
])
async def test_bad_chat_requests_get_400_with_a_reason(server, change, words):
    r = await server.post("/v1/chat/completions", headers=AUTH, json={**ASK, **change})
    assert r.status == 400
    assert words in (await r.json())["error"]["message"]


SECRET = "sk-live-0123456789abcdefghijklmnopqrstuv"


async def failing_agent(tmp_path, events, reasoning: ReasoningConfig) -> BackgroundAgent:
    """The sample project's planted bug, saved and tested, with a secret near the bug."""
    root = make_sample_project(tmp_path / "proj")
    parse = root / "parse.py"
    before = parse.read_text()
    parse.write_text(before.replace("    fields = line.split", f'    token = "{SECRET}"\n'
                                    "    fields = line.split"))
    config = OnSaveConfig(rules=(OnSaveRule(("*.py",), tests="affected", lint=False),))
    agent = BackgroundAgent(root, events.append, config=config, warm_tests=False)
    agent.set_reasoning(reasoning)
    # the save that planted the bug (the secret sits in the code around it)
    diff = ("--- a/parse.py\n+++ b/parse.py\n@@ -8 +8 @@\n-    return fields[len(fields) - 1]\n"
            "+    return fields[len(fields)]\n")
    [job] = agent.on_file_saved("parse.py", diff)
    assert await agent.wait(job) == "done"
    return agent


async def test_explain_streams_the_answer_into_a_card_and_says_its_first_sentence(
        server, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_TEST_KEY", TOKEN)
    events: list = []
    endpoint = str(server.make_url("/v1"))
    agent = await failing_agent(tmp_path, events, ReasoningConfig(
        enabled=True, endpoint=endpoint, model="tiny", api_key_env="COMPANION_TEST_KEY",
        timeout=120))
    job = agent.submit_call('{"tool": "explain", "args": {"question": "why does it fail?"}}')
    state = await agent.wait(job)
    mine = [e for e in events if e.job_id == job]
    assert state == "done", mine[-1].summary
    result = mine[-1]
    answer = result.data["answer"]
    assert answer and result.summary == first_sentence(answer)
    partial = [e.data["answer"] for e in mine if e.phase == "progress"]
    assert partial and all(answer.startswith(p.strip()) for p in partial)
    # what was asked: the failure, the pinned line with its code, the diff; never the secret
    [request] = server.seen
    assert request["model"] == "tiny" and request["stream"] is True
    user = request["messages"][1]["content"]
    assert "Failing test: tests/test_parse.py::test_" in user
    assert "parse.py line 8, in parse_header" in user
    assert "> 8 |     return fields[len(fields)]" in user
    assert "What changed since the tests last passed" in user
    assert "+    return fields[len(fields)]" in user and "[REDACTED]" in user
    assert "Question: why does it fail?" in user
    assert SECRET not in user and SECRET not in json.dumps(request)
    await agent.aclose()


async def test_explain_errors_are_clear_messages(server, tmp_path, monkeypatch):
    events: list = []
    agent = await failing_agent(tmp_path, events, ReasoningConfig())

    async def explain(config: ReasoningConfig) -> str:
        agent.set_reasoning(config)
        job = agent.submit("explain", {})
        assert await asyncio.wait_for(agent.wait(job), 30) == "error"
        return [e for e in events if e.job_id == job][-1].summary

    assert (await explain(ReasoningConfig())).startswith("explanations are off")
    assert await explain(ReasoningConfig(enabled=True)) == (
        "reasoning is not configured: set endpoint and model in the [reasoning] table")
    url = str(server.make_url("/v1"))
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    assert await explain(ReasoningConfig(True, url, "tiny", "NO_SUCH_KEY_VAR")) == (
        "the API key variable NO_SUCH_KEY_VAR is not set")
    monkeypatch.setenv("WRONG_KEY", "wrong")
    said = await explain(ReasoningConfig(True, url, "tiny", "WRONG_KEY"))
    assert said.startswith("the reasoning endpoint answered 401: missing or wrong bearer token")
    closed = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    assert (await explain(ReasoningConfig(True, closed, "tiny"))).startswith(
        "cannot reach the reasoning endpoint http://127.0.0.1:9/v1/chat/completions")

    async def never(request):  # accepts, then says nothing
        await asyncio.sleep(3600)

    silent = web.Application()
    silent.router.add_post("/v1/chat/completions", never)
    async with TestServer(silent) as stuck:
        said = await explain(ReasoningConfig(True, str(stuck.make_url("/v1")), "tiny",
                                             timeout=1.0))
    assert said == "the reasoning model did not answer within 1 seconds"
    await agent.aclose()
