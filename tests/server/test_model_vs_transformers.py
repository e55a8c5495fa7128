"""The engine's logits match transformers' on tiny random Qwen2/Qwen3/Llama/Qwen3-MoE models."""

from __future__ import annotations

import pytest
import torch

from model_server.core import Req, SamplingParams
from tests.server.conftest import make_core

FAMILIES = ["qwen2", "qwen3", "llama", "qwen3_moe"]
GREEDY = {"temperature": 0.0}


def hf_logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()


def assert_close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    err = (ours - ref).abs().max() / ref.abs().max()
    assert err <= 1e-4, f"max error {err:.2e} relative to max |logit| {ref.abs().max():.3f}"


def run(core, req):
    core.add_request(req)
    while not req.finished:
        core.step()
    return req


def ids_of(n: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 101, (n,), generator=g).tolist()


@pytest.mark.parametrize("family", FAMILIES)
def test_one_prefill_matches(tiny_models, family):
    d, hf = tiny_models[family]
    core = make_core(d)
    ids = ids_of(37, 1)
    s = core.sessions.open()
    req = run(core, Req("r1", ids, SamplingParams(max_new_tokens=0), s.id, return_logits=True))
    assert_close(req.logits[0], hf_logits(hf, ids))


@pytest.mark.parametrize("family", FAMILIES)
def test_appended_chunks_with_decodes_match(tiny_models, family):
    d, hf = tiny_models[family]
    core = make_core(d)
    s = core.sessions.open()
    seq, ours, prev = [], [], None
    for i, n in enumerate([13, 1, 29, 7, 18]):
        chunk = ids_of(n, 10 + i)
        req = run(core, Req(f"r{i}", chunk, SamplingParams(max_new_tokens=3, **GREEDY), s.id,
                            prev_rid=prev, return_logits=True))
        prev = req.rid
        seq += chunk
        ours += req.logits
        seq += req.output_ids
    ref = hf_logits(hf, seq)
    got = torch.cat(ours)
    # the last sampled token is pending (not fed yet), so we have logits for all but it
    assert got.shape[0] == len(seq) - 1
    assert_close(got, ref[:-1])


@pytest.mark.parametrize("family", FAMILIES)
def test_sessions_batched_with_different_lengths_match(tiny_models, family):
    d, hf = tiny_models[family]
    core = make_core(d)
    reqs = []
    for i, n in enumerate([5, 40, 1, 23]):
        s = core.sessions.open()
        req = Req(f"b{i}", ids_of(n, 20 + i), SamplingParams(max_new_tokens=4, **GREEDY), s.id,
                  return_logits=True)
        core.add_request(req)
        reqs.append(req)
    steps = 0
    while core.has_work():
        core.step()
        steps += 1
    assert steps == 4  # one extend step for all four, then three decode steps together
    for req in reqs:
        seq = req.input_ids + req.output_ids
        assert_close(torch.cat(req.logits), hf_logits(hf, seq)[:-1])
