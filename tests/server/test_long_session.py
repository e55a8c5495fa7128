"""Long sessions: a pinned prefix plus a bounded window; memory stays flat, evicted keys are
re-rotated to their new positions, and (in a 1-layer model, whose K/V depend only on token
and position) the logits after eviction equal a fresh prefill of what is kept. In deeper
models the kept K/V still carry what they attended to before eviction, so there the property
checked is the cache itself: every kept key equals its old key moved to its new position."""

from __future__ import annotations

import pytest
import torch

from model_server.core import Req, RequestError, SamplingParams
from tests.server.conftest import make_core
from tests.server.test_model_vs_transformers import assert_close, ids_of

TURN = SamplingParams(max_new_tokens=3, temperature=0.0)


def run(core, req):
    core.add_request(req)
    while not req.finished:
        core.step()
    return req


@pytest.mark.parametrize("family", ["qwen3", "llama"])
def test_eviction_matches_fresh_prefill_of_kept_tokens(one_layer_models, family):
    d = one_layer_models[family]
    core = make_core(d, window_tokens=64)
    s = core.sessions.open()
    prefix = ids_of(21, 0)
    prev = run(core, Req("p", prefix, SamplingParams(max_new_tokens=0), s.id)).rid
    assert s.pinned_len == 21
    evictions, peak_blocks = 0, 0
    for i in range(30):
        before = s.evicted_tokens
        kept, pending = list(s.kv_tokens), list(s.pending)
        chunk = ids_of(11 + i % 5, 100 + i)
        req = run(core, Req(f"t{i}", chunk, TURN, s.id, prev_rid=prev, return_logits=True))
        prev = req.rid
        peak_blocks = max(peak_blocks, core.pool.used)
        assert s.kv_tokens[:21] == prefix
        assert s.kv_len - s.pinned_len <= 64
        if s.evicted_tokens > before:
            evictions += 1
            # what the KV held after eviction = the kept tokens minus the evicted range
            kept_after = s.kv_tokens[:s.kv_len - len(pending) - len(chunk) - 2]
            assert kept_after == kept[:21] + kept[21 + s.evicted_tokens - before:]
            fresh = core.sessions.open()
            whole = run(core, Req(f"f{i}", kept_after + pending + chunk,
                                  SamplingParams(max_new_tokens=1, temperature=0.0), fresh.id,
                                  return_logits=True))
            core.close_session(fresh.id)
            n = len(pending) + len(chunk)
            assert_close(req.logits[0], whole.logits[0][-n:])
    assert evictions >= 3
    assert peak_blocks <= -(-(21 + 64) // 16) + 1
    assert s.total_tokens == 21 + sum(11 + i % 5 + 3 for i in range(30))


def test_chunk_larger_than_window_is_refused(tiny_models):
    d, _ = tiny_models["qwen2"]
    core = make_core(d, window_tokens=32)
    s = core.sessions.open()
    run(core, Req("p", ids_of(5, 0), SamplingParams(max_new_tokens=0), s.id))
    with pytest.raises(RequestError) as e:
        core.add_request(Req("big", ids_of(31, 1), TURN, s.id, prev_rid="p"))
    assert e.value.status == 413 and "window" in e.value.message
    assert not s.busy and s.kv_len == 5  # refused without touching the session


def test_evicted_keys_are_old_keys_rotated_to_new_positions(tiny_models):
    d, _ = tiny_models["qwen3"]
    core = make_core(d, window_tokens=48)
    s = core.sessions.open()
    prev = run(core, Req("p", ids_of(19, 0), SamplingParams(max_new_tokens=0), s.id)).rid
    inv = core.rope.inv_freq

    def rows(layer):
        t = torch.tensor(s.blocks)
        return core.kv.k[layer][t].flatten(0, 1)[:s.kv_len].double(), \
            core.kv.v[layer][t].flatten(0, 1)[:s.kv_len].double()

    def rotate(k, pos):  # rotate-half RoPE in float64 by per-row angle pos * inv_freq
        ang = torch.cat([pos[:, None] * inv, pos[:, None] * inv], -1)[:, None, :]
        half = k.shape[-1] // 2
        return k * ang.cos() + torch.cat([-k[..., half:], k[..., :half]], -1) * ang.sin()

    for i in range(12):
        before = [rows(layer) for layer in range(2)]
        old_len, ev = s.kv_len, s.evicted_tokens
        # admission evicts; check the cache right after it, before the new chunk is written
        core.add_request(Req(f"t{i}", ids_of(9, 50 + i), TURN, s.id, prev_rid=prev))
        delta = s.evicted_tokens - ev
        if delta:
            kept = torch.cat([torch.arange(19), torch.arange(19 + delta, old_len)])
            for layer in range(2):
                k_old, v_old = before[layer]
                k_new, v_new = rows(layer)
                new_pos = torch.arange(s.kv_len, dtype=torch.float64)
                expect = rotate(rotate(k_old[kept], -kept.double()), new_pos)
                assert torch.allclose(k_new, expect, atol=1e-5)
                assert torch.equal(v_new, v_old[kept])
        req = core.scheduler.waiting[-1]
        while not req.finished:
            core.step()
        prev = req.rid
    assert s.evicted_tokens > 0
