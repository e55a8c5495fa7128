"""Per-position input embeddings, seeded sampling, stop rules, TTL expiry and aborts."""

from __future__ import annotations

import time

import torch

from model_server.core import Req, SamplingParams
from model_server.sampler import make_generator, sample
from tests.server.conftest import make_core
from tests.server.test_model_vs_transformers import ids_of


def run(core, req):
    core.add_request(req)
    while not req.finished:
        core.step()
    return req


def logits_with(core, ids, positions=(), rows=None):
    s = core.sessions.open()
    req = run(core, Req("e", ids, SamplingParams(max_new_tokens=0), s.id,
                        embed_positions=tuple(positions), embed_rows=rows, return_logits=True))
    core.close_session(s.id)
    return req.logits[0]


def test_embedding_a_position_with_its_own_row_is_identical(tiny_models):
    d, _ = tiny_models["qwen3"]
    core = make_core(d)
    ids = ids_of(20, 3)
    plain = logits_with(core, ids)
    emb = core.model.weights.embed
    same = logits_with(core, ids, [2, 11], emb[[ids[2], ids[11]]].clone())
    assert torch.equal(plain, same)
    other = logits_with(core, ids, [11], torch.randn(1, emb.shape[1]))
    assert torch.equal(other[:11], plain[:11])  # causal: rows before 11 cannot see it
    assert not torch.allclose(other[11:], plain[11:], atol=1e-3)


def test_embeds_in_a_later_turn_land_after_the_pending_token(tiny_models):
    d, _ = tiny_models["qwen2"]
    core = make_core(d)
    emb = core.model.weights.embed
    outs = []
    for replace in (False, True):
        s = core.sessions.open()
        first = run(core, Req("a", ids_of(9, 1), SamplingParams(max_new_tokens=2,
                                                                temperature=0.0), s.id))
        chunk = ids_of(6, 2)
        rows = emb[[chunk[3]]].clone() if replace else None
        second = run(core, Req("b", chunk, SamplingParams(max_new_tokens=0), s.id,
                               prev_rid=first.rid, embed_positions=(3,) if replace else (),
                               embed_rows=rows, return_logits=True))
        outs.append(second.logits[0])
    assert torch.equal(outs[0], outs[1])


def test_sampling_is_seeded_and_reproducible():
    logits = torch.randn(50)
    p = SamplingParams(temperature=1.0, top_p=0.95, sampling_seed=3)
    a = [sample(logits, p, g) for g in [make_generator(p)] for _ in range(20)]
    b = [sample(logits, p, g) for g in [make_generator(p)] for _ in range(20)]
    q = SamplingParams(temperature=1.0, top_p=0.95, sampling_seed=4)
    c = [sample(logits, q, g) for g in [make_generator(q)] for _ in range(20)]
    assert a == b and a != c
    tiny_p = SamplingParams(temperature=1.0, top_p=1e-6)
    assert sample(logits, tiny_p, make_generator(tiny_p)) == int(torch.argmax(logits))
    top1 = SamplingParams(temperature=5.0, top_k=1)
    assert sample(logits, top1, make_generator(top1)) == int(torch.argmax(logits))


def test_logit_bias_is_added_before_the_choice_and_validated():
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
    greedy = SamplingParams(temperature=0.0)
    assert sample(logits, greedy, make_generator(greedy)) == 0
    tilted = SamplingParams.from_json({"temperature": 0.0, "logit_bias": {"2": 1.6, "0": -0.1}})
    assert tilted.logit_bias == ((0, -0.1), (2, 1.6))
    assert sample(logits, tilted, make_generator(tilted)) == 2  # 0.5 + 1.6 > 2.0 - 0.1
    assert logits.tolist() == [2.0, 1.0, 0.5, -1.0]  # the caller's logits are left as they were
    for bad_bias, words in (({"x": 1.0}, "not a token id"), ({"1": "big"}, "must be a number"),
                            ([1.0], "must be an object"), ({"-3": 1.0}, "token ids >= 0"),
                            ({"1": float("inf")}, "finite")):
        try:
            SamplingParams.from_json({"logit_bias": bad_bias})
        except ValueError as e:
            assert words in str(e), (bad_bias, e)
        else:
            raise AssertionError(f"{bad_bias!r} was accepted")


def test_stop_string_trims_text_and_stop_token_ends(text_model):
    d, _vocab = text_model
    core = make_core(d)
    s = core.sessions.open()
    free = run(core, Req("f", ids_of(8, 4), SamplingParams(max_new_tokens=6, temperature=0.0,
                                                           ignore_eos=True), s.id))
    words = free.text.split()
    assert len(words) >= 3
    stop_text = " " + words[2]
    stop = SamplingParams(max_new_tokens=6, temperature=0.0, stop=(stop_text,))
    s2 = core.sessions.open()
    cut = run(core, Req("c", ids_of(8, 4), stop, s2.id))
    assert cut.finish_reason == {"type": "stop", "matched": stop_text}
    assert cut.text == free.text[:free.text.find(stop_text)]
    stop_token = free.output_ids[1]
    stop_id = SamplingParams(max_new_tokens=6, temperature=0.0, stop_token_ids=(stop_token,))
    s3 = core.sessions.open()
    by_id = run(core, Req("i", ids_of(8, 4), stop_id, s3.id))
    assert by_id.output_ids == free.output_ids[:free.output_ids.index(stop_token) + 1]
    assert by_id.finish_reason == {"type": "stop", "matched": stop_token}


def test_idle_sessions_expire_and_free_their_blocks(tiny_models):
    d, _ = tiny_models["llama"]
    core = make_core(d, session_ttl_s=0.05)
    busy_free = core.pool.free
    s = core.sessions.open()
    run(core, Req("x", ids_of(40, 1), SamplingParams(max_new_tokens=1), s.id))
    assert core.pool.free < busy_free
    time.sleep(0.1)
    assert core.expire_idle() == [s.id]
    assert core.pool.free == busy_free and s.id not in core.sessions.sessions


def test_close_while_running_aborts_the_request(tiny_models):
    d, _ = tiny_models["qwen2"]
    core = make_core(d)
    s = core.sessions.open()
    req = Req("r", ids_of(5, 1), SamplingParams(max_new_tokens=50, ignore_eos=True), s.id)
    core.add_request(req)
    core.step()
    aborted = core.close_session(s.id)
    assert aborted == [req] and req.finish_reason["type"] == "abort"
    assert not core.has_work() and core.pool.used == 0
