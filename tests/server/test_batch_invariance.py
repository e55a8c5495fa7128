"""Batch-invariant mode: a session's logits and tokens are bitwise identical alone, batched
with other sessions of other lengths, and fed as one prefill or as many appended chunks."""

from __future__ import annotations

import pytest
import torch

from model_server.core import Req, SamplingParams
from tests.server.conftest import make_core
from tests.server.test_model_vs_transformers import ids_of

OPTS = {"batch_invariant": True, "split_size": 32}
SAMPLING = SamplingParams(max_new_tokens=4, temperature=0.8, top_p=0.9, sampling_seed=7)


def drive(core, chunks, others=(), late_others=()):
    """Run session A's chunks one turn at a time; `others` [(len, max_new)] join A's first
    turn, `late_others` join at A's decode steps. Return A's logits rows and tokens."""
    a = core.sessions.open()
    prev, rows, tokens = None, [], []
    for i, chunk in enumerate(chunks):
        req = Req(f"a{i}", chunk, SAMPLING, a.id, prev_rid=prev, return_logits=True)
        core.add_request(req)
        if i == 0:
            for j, (n, m) in enumerate(others):
                s = core.sessions.open()
                core.add_request(Req(f"o{j}", ids_of(n, 50 + j),
                                     SamplingParams(max_new_tokens=m, temperature=0.0), s.id))
        late = list(late_others) if i == 0 else []
        while not req.finished:
            core.step()
            if late:
                n, m = late.pop(0)
                s = core.sessions.open()
                core.add_request(Req(f"l{len(late)}-{i}", ids_of(n, 70 + len(late)),
                                     SamplingParams(max_new_tokens=m, temperature=0.0), s.id))
        while core.has_work():
            core.step()
        prev = req.rid
        rows += req.logits
        tokens += req.output_ids
    return torch.cat(rows), tokens


@pytest.mark.parametrize("family", ["qwen2", "qwen3_moe"])
def test_alone_equals_batched_bitwise(tiny_models, family):
    d, _ = tiny_models[family]
    chunks = [ids_of(45, 1), ids_of(9, 2), ids_of(30, 3)]
    alone_rows, alone_tokens = drive(make_core(d, **OPTS), chunks)
    for others in ([(7, 2)], [(70, 1), (3, 6)], [(1, 5), (33, 3), (90, 2)]):
        rows, tokens = drive(make_core(d, **OPTS), chunks, others, late_others=[(17, 2), (5, 3)])
        assert tokens == alone_tokens
        assert torch.equal(rows, alone_rows), f"batched with {others}: logits differ"


@pytest.mark.parametrize("family", ["qwen2", "qwen3_moe"])
def test_one_prefill_equals_appended_chunks_bitwise(tiny_models, family):
    d, _ = tiny_models[family]
    core = make_core(d, **OPTS)
    greedy0 = SamplingParams(max_new_tokens=0)
    full = ids_of(100, 5)
    s = core.sessions.open()
    whole = Req("w", full, greedy0, s.id, return_logits=True)
    core.add_request(whole)
    core.step()
    s2 = core.sessions.open()
    prev, rows = None, []
    for i, (a, b) in enumerate([(0, 31), (31, 32), (32, 47), (47, 80), (80, 100)]):
        req = Req(f"c{i}", full[a:b], greedy0, s2.id, prev_rid=prev, return_logits=True)
        core.add_request(req)
        core.step()
        prev = req.rid
        rows += req.logits
    assert torch.equal(torch.cat(rows), whole.logits[0])


def test_default_mode_is_not_required_bitwise_but_close(tiny_models):
    d, _ = tiny_models["qwen2"]
    chunks = [ids_of(45, 1), ids_of(9, 2)]
    inv_rows, _ = drive(make_core(d, **OPTS), chunks)
    fast_rows, _ = drive(make_core(d, split_size=32), chunks)
    assert torch.allclose(inv_rows, fast_rows, rtol=0, atol=1e-4 * inv_rows.abs().max())
