"""Grammar-constrained decoding on the real engine and HTTP API: xgrammar under SGLang's
`ebnf` / `regex` / `json_schema` fields, with the embedded model's BPE tokenizer."""

from __future__ import annotations

import json
import re

import pytest
import torch
from aiohttp.test_utils import TestClient, TestServer

from companion.core.events import JobEvent
from companion.core.protocol import Chunk, parse_output, serialize_chunk
from companion.model.action_grammar import MAX_SPEAK_WORDS, default_action_grammar
from companion.model.session_client import sampling_params
from model_server.core import EngineOptions, Req, SamplingParams
from model_server.engine import Engine, EngineCore
from model_server.grammar import backend_for, grammar_for_request
from model_server.loader import load_model
from model_server.server import make_app
from tools.catalog import default_registry

TOKEN = "t"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRAMMAR = default_action_grammar()
ACTION_TOKENS = ("<|silence|>", "<|speak|>", "<|stop|>", "<|relay|>", "<|call|>")
# SGLang's /generate sampling_params names (docs/backend/sampling_params.md)
SGLANG_SAMPLING_FIELDS = {
    "max_new_tokens", "stop", "stop_token_ids", "temperature", "top_p", "top_k", "min_p",
    "ignore_eos", "skip_special_tokens", "spaces_between_special_tokens", "no_stop_trim", "n",
    "json_schema", "regex", "ebnf", "structural_tag", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "min_new_tokens", "custom_params", "stream_interval", "logit_bias",
    "sampling_seed"}


@pytest.fixture(scope="module")
def core(v2_model):
    torch.set_num_threads(1)  # a shared 2-core machine: threads only contend
    return EngineCore(load_model(str(v2_model[0])), EngineOptions(kv_budget_mb=8))


def turn_ids(model) -> list[int]:
    chunk = Chunk(tick=16, t=3.2, jobs=(JobEvent(3.1, "job-3", "tests", "result",
                                                  "median returns 1 for [3, 1, 2], expected 2",
                                                  {"failures": [{"test": "t"}]}),))
    return model.encode(serialize_chunk(chunk, features=False, protocol=2).text)


def run(core, ids, params: SamplingParams) -> Req:
    req = Req(f"r{params.sampling_seed}-{params.temperature}", list(ids), params)
    req.grammar = grammar_for_request(params, core.model)
    core.add_request(req)
    while not req.finished:
        core.step()
    return req


def turn_params(seed: int, temperature: float, ebnf: str | None = GRAMMAR) -> SamplingParams:
    body = {**sampling_params(600, ebnf=ebnf), "temperature": temperature, "sampling_seed": seed}
    return SamplingParams.from_json(body)


@pytest.mark.parametrize("temperature", [0.0, 0.8, 1.5])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_model_outputs_under_the_action_grammar_always_parse(core, v2_model, seed,
                                                                     temperature):
    tok = v2_model[1]
    req = run(core, turn_ids(core.model), turn_params(seed, temperature))
    end_id = tok.token_to_id("<|end|>")
    assert req.finish_reason["type"] == "stop", req.finish_reason
    assert req.output_ids[-1] == end_id  # the grammar completed and the model stopped
    # special tokens stay single tokens: the action opens with one of the five action ids
    assert req.output_ids[0] in {tok.token_to_id(t) for t in ACTION_TOKENS}, req.output_ids[:3]
    (action,), ended = parse_output(req.text, protocol=2)
    assert ended and not action.error, (req.text, action)
    if action.kind == "call":
        call = default_registry().parse_call(action.text)  # registered, arguments pass the spec
        assert call.tool in default_registry().names()
    elif action.kind == "speech":
        assert 1 <= len(action.text.split()) <= MAX_SPEAK_WORDS
    elif action.kind == "relay":
        assert re.fullmatch(r"j\d+", action.job)


def test_without_the_grammar_the_same_random_model_does_not_parse(core):
    """The control: the property above is the grammar's doing, not the model's."""
    errors = []
    for seed in range(4):
        req = run(core, turn_ids(core.model), turn_params(seed, 1.0, ebnf=None))
        (action,), _ = parse_output(req.text, protocol=2)
        errors.append(bool(action.error) or req.finish_reason["type"] != "stop")
    assert all(errors)


def test_the_compiled_grammar_is_cached_across_turns(core):
    backend = backend_for(core.model)
    backend.compile("ebnf", GRAMMAR)
    size = backend.compiler.get_cache_size_bytes()
    before = backend.compile_s
    backend.compile("ebnf", GRAMMAR)
    assert backend.compiler.get_cache_size_bytes() == size
    assert backend.compile_s - before < 0.05  # a cache hit, not a 0.3 s compile


@pytest.fixture
async def client(v2_model):
    engine = Engine(EngineCore(load_model(str(v2_model[0])),
                               EngineOptions(kv_budget_mb=8, max_chunk_tokens=512))).start()
    async with TestClient(TestServer(make_app(engine, TOKEN, 1 << 20))) as c:
        yield c
    engine.stop()


async def generate(client, sampling: dict, text: str = "<|t|>1.0<|out|>"):
    r = await client.post("/generate", json={"text": text, "sampling_params": sampling},
                          headers=AUTH)
    return r.status, await r.json()


async def test_the_companion_body_uses_sglang_field_names_and_is_served(client):
    params = sampling_params(600, ebnf=GRAMMAR)
    assert set(params) <= SGLANG_SAMPLING_FIELDS
    status, body = await generate(client, {**params, "temperature": 1.0, "sampling_seed": 5})
    assert status == 200, body
    (action,), ended = parse_output(body["text"], protocol=2)
    assert ended and not action.error, body["text"]


async def test_regex_and_json_schema_constrain_the_output(client):
    status, body = await generate(client, {"regex": "(yes|no)", "temperature": 1.0,
                                           "max_new_tokens": 16})
    assert status == 200 and body["text"] in ("yes", "no"), body
    schema = {"type": "object", "properties": {"scope": {"enum": ["affected", "all"]},
                                               "ok": {"type": "boolean"}},
              "required": ["scope", "ok"], "additionalProperties": False}
    status, body = await generate(client, {"json_schema": json.dumps(schema), "temperature": 0.8,
                                           "max_new_tokens": 64})
    assert status == 200 and body["meta_info"]["finish_reason"]["type"] == "stop", body
    value = json.loads(body["text"])
    assert set(value) == {"scope", "ok"} and value["scope"] in ("affected", "all")


@pytest.mark.parametrize("sampling, words", [
    ({"ebnf": "root ::= \"a\" | "}, "invalid grammar"),
    ({"regex": "(unclosed"}, "invalid grammar"),
    ({"json_schema": "{not json"}, "invalid grammar"),
    ({"ebnf": "root ::= \"a\"", "regex": "a"}, "only one of"),
    ({"ebnf": ""}, "non-empty string"),
])
async def test_an_invalid_grammar_is_a_400_with_the_reason(client, sampling, words):
    status, body = await generate(client, {**sampling, "max_new_tokens": 4})
    assert status == 400 and words in body["error"]["message"], body
    assert "/project/" not in body["error"]["message"]  # no xgrammar log prefix


async def test_logit_bias_moves_the_action_and_the_grammar_still_holds(client, v2_model):
    tokenizer = v2_model[1]
    ids = {a: tokenizer.token_to_id(a) for a in ACTION_TOKENS}
    params = sampling_params(600, ebnf=GRAMMAR)
    for action in ("<|stop|>", "<|silence|>"):  # each one pushed up: the turn starts with it
        bias = {str(i): (60.0 if a == action else 0.0) for a, i in ids.items()}
        status, body = await generate(client, {**params, "logit_bias": bias})
        assert status == 200 and body["text"].startswith(action), body
        assert not parse_output(body["text"], protocol=2)[0][0].error
    # a token the grammar forbids stays forbidden however large its bias
    plain = tokenizer.encode("hello", add_special_tokens=False).ids[0]
    status, body = await generate(client, {**params, "logit_bias": {str(tokenizer.token_to_id("the")): 100.0}})
    assert status == 200 and body["text"].split("|>")[0] + "|>" in ACTION_TOKENS, body
    status, body = await generate(client, {**params, "logit_bias": {"999999": 1.0}})
    assert status == 400 and "logit_bias" in body["error"]["message"], body


async def test_a_relay_names_only_the_ids_the_turns_grammar_offers(client, v2_model):
    from companion.model.action_grammar import with_relays

    tokenizer = v2_model[1]
    relay_first = {str(tokenizer.token_to_id("<|relay|>")): 60.0}  # every turn wants to relay
    for seed in range(6):
        body = {**sampling_params(600, ebnf=with_relays(GRAMMAR, ["j7", "j12"])),
                "temperature": 1.5, "sampling_seed": seed, "logit_bias": relay_first}
        status, out = await generate(client, body)
        (action,), _ = parse_output(out["text"], protocol=2)
        assert status == 200 and action.kind == "relay" and action.job in ("j7", "j12"), out
    status, out = await generate(client, {**sampling_params(600, ebnf=with_relays(GRAMMAR, [])),
                                          "logit_bias": relay_first})
    assert status == 200 and not out["text"].startswith("<|relay|>"), out  # nothing to relay


async def test_model_info_declares_the_protocol(client, text_model):
    r = await client.get("/get_model_info", headers=AUTH)
    assert (await r.json())["protocol"] == 2
    from model_server.server import model_protocol

    assert model_protocol(text_model[0]) == 1  # no prompt.json: protocol 1


async def test_ignore_eos_ends_where_the_grammar_is_complete(client):
    status, body = await generate(client, {"regex": "(yes|no)", "ignore_eos": True,
                                           "temperature": 1.0, "max_new_tokens": 16})
    assert status == 200 and body["text"] in ("yes", "no"), body
    assert body["meta_info"]["finish_reason"] == {"type": "stop", "matched": "grammar"}
