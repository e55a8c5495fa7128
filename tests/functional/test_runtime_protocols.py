"""The whole runtime against a scripted model server: protocol 2 (grammar sent, one action per
turn, relay spoken verbatim, whole capped utterances) and protocol 1 (unchanged), end to end.

The scripted server exists only in this test: it answers like our server / SGLang would, with
outputs chosen from what each turn's input contains, and records every request body.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.core.events import JobEvent, Say, TypedText
from companion.model.action_grammar import action_grammar, after_a_call, while_speaking, with_relays
from companion.perception import PerceptionOptions
from companion.runtime import Runtime, RuntimeOptions
from tools.catalog import default_registry

SUMMARY = "median returns 1 for [3, 1, 2], expected 2, stats.py line 11"
LONG = " ".join(f"word{i}" for i in range(30))


def scripted_output(protocol: int, text: str) -> str:
    if protocol == 2:
        if "<|tool|>j7 failed: " + SUMMARY in text:
            return "<|relay|>j7<|end|>"
        if "<|user|>which job" in text:
            return "<|relay|>j9<|end|>"  # no such job: nothing may be said
        if "<|user|>talk a lot" in text:
            return f"<|speak|>{LONG}<|end|>"
        return "<|silence|><|end|>"
    if "<|tool|>tests result: " + SUMMARY in text:
        return " the median test fails<|end|>"
    return "<|silence|><|end|>"


class ScriptedServer:
    def __init__(self, info: dict, protocol: int) -> None:
        self.info, self.protocol, self.bodies = info, protocol, []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/get_model_info", self.model_info)
        app.router.add_post("/open_session", self.open)
        app.router.add_post("/close_session", self.close)
        app.router.add_post("/generate", self.generate)
        return app

    async def model_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.info)

    async def open(self, request: web.Request) -> web.Response:
        return web.json_response("s1")

    async def close(self, request: web.Request) -> web.Response:
        return web.json_response(True)

    async def generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        decode = body["sampling_params"]["max_new_tokens"] > 0
        text = scripted_output(self.protocol, body["text"]) if decode else ""
        return web.json_response({"text": text, "output_ids": [], "meta_info": {
            "id": f"r{len(self.bodies)}", "finish_reason": {"type": "stop", "matched": "<|end|>"},
            "prompt_tokens": 1, "completion_tokens": 1, "cached_tokens": 0}})


async def run_session(tmp_path, info: dict, protocol: int, option: int | None, events) -> tuple:
    server = ScriptedServer(info, protocol)
    async with TestServer(server.app()) as ts:
        off = PerceptionOptions(files=False, screen=False, mic=False, voice=False, asr=False)
        rt = Runtime(RuntimeOptions(repo=tmp_path, perception=off, protocol=option,
                                    server_url=str(ts.make_url("")), token="t"))
        said: list[str] = []
        rt.subscribe(lambda e: said.append(e.text) if isinstance(e, Say) else None)
        await rt.start()
        try:
            deadline = time.monotonic() + 10
            while not any(b["sampling_params"]["max_new_tokens"] for b in server.bodies):
                assert time.monotonic() < deadline, "the loop never sent a turn"
                await asyncio.sleep(0.05)
            for event in events:
                rt.emit(event(time.monotonic()))
                await asyncio.sleep(0.8)  # a few micro-turns
        finally:
            await rt.stop()
    turns = [b for b in server.bodies if b["sampling_params"]["max_new_tokens"] > 0]
    return said, turns


def failing_job(t: float) -> JobEvent:
    return JobEvent(t, "job-7", "tests", "result", SUMMARY, {"failures": [{"test": "x"}]})


@pytest.mark.parametrize("info, option", [({"protocol": 2}, None), ({}, 2)],
                         ids=["declared-by-the-server", "sglang-with---protocol-2"])
async def test_protocol_2_relays_verbatim_and_speaks_whole_capped_utterances(
        tmp_path, caplog, info, option):
    caplog.set_level(logging.WARNING, "companion.rules.utterances")
    events = [failing_job, lambda t: TypedText(t, "which job"), lambda t: TypedText(t, "talk a lot")]
    said, turns = await run_session(tmp_path, info, 2, option, events)
    grammar = action_grammar(default_registry())
    raw = [b["sampling_params"].get("ebnf") for b in turns]
    # a copied argument (remind's request) names the lines typed so far; the rest is compared
    # with that rule as the plain grammar writes it
    heard_rule = next(line for line in grammar.splitlines() if line.startswith("heard_string ::="))
    offered = [re.sub(r"(?m)^heard_string ::=.*$", lambda _: heard_rule, g) for g in raw]
    assert any('"\\"which job\\"" | "\\"talk a lot\\""' in g for g in raw)
    # every turn gets the action grammar, its relay naming the results that may be relayed;
    # while the voice plays (or was just asked to speak) only silence or stop; a call only
    # while typed words are new
    idle, j7 = with_relays(grammar, []), with_relays(grammar, ["j7"])
    shapes = [shape(g) for g in (idle, j7) for shape in (lambda g: g, while_speaking, after_a_call)]
    assert turns and all(g in shapes for g in offered)
    assert offered[0] == after_a_call(idle)  # nothing asked yet: no call
    typed_turn = next(i for i, b in enumerate(turns) if "<|user|>which job" in b["text"])
    assert offered[typed_turn].startswith("root ::= silence | speak | stop | call\n")
    assert any(g.startswith("root ::= silence | stop\n") for g in offered)
    j7_turn = next(i for i, b in enumerate(turns) if "<|tool|>j7 failed: " in b["text"])
    assert offered[j7_turn] in (j7, after_a_call(j7))  # the failure, in the turn it arrives
    assert offered[-1] in (idle, while_speaking(idle), after_a_call(idle))  # relayed once: not again
    assert said[0] == SUMMARY + " "  # the agent's words, verbatim, once
    assert sum(SUMMARY in s for s in said) == 1
    # a server that ignores the grammar (this scripted one) may still name an unknown id:
    # logged, nothing said
    assert "relay of j9 ignored" in caplog.text
    assert said[1].split() == LONG.split()[:24]  # one whole utterance, capped at 24 words
    assert len(said) == 2
    job_lines = [b["text"] for b in turns if "<|tool|>" in b["text"]]
    assert any("<|tool|>j7 failed: " + SUMMARY in t for t in job_lines)


async def test_protocol_1_is_unchanged_no_grammar_and_speech_fragments(tmp_path):
    said, turns = await run_session(tmp_path, {}, 1, None, [failing_job])
    assert turns and all("ebnf" not in b["sampling_params"] for b in turns)
    assert all(b["sampling_params"]["max_new_tokens"] == 32 for b in turns)
    assert said == [" the median test fails"]  # the fragment as the model wrote it
    job_lines = [b["text"] for b in turns if "<|tool|>" in b["text"]]
    assert any("<|tool|>tests result: " + SUMMARY + " {" in t for t in job_lines)
