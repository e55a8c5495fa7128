"""The attention backends agree with a dense reference on the paged layout; "triton" either
matches the torch backend or says clearly why it is unavailable."""

from __future__ import annotations

import math
import os

import pytest
import torch

from model_server.attention import append_attention_sdpa, append_attention_split, select_attention


def paged_case(seed=0, q_lens=(3, 1, 17), kv_lens=(20, 7, 40), hq=4, hkv=2, d=16, block=16):
    g = torch.Generator().manual_seed(seed)
    num_blocks = sum(-(-n // block) for n in kv_lens) + 3
    k_cache = torch.randn(num_blocks, block, hkv, d, generator=g)
    v_cache = torch.randn(num_blocks, block, hkv, d, generator=g)
    perm = torch.randperm(num_blocks, generator=g).tolist()  # blocks out of order
    tables, at = [], 0
    for n in kv_lens:
        nb = -(-n // block)
        tables.append(perm[at:at + nb])
        at += nb
    width = max(len(t) for t in tables)
    bt = torch.tensor([t + [-1] * (width - len(t)) for t in tables], dtype=torch.int32)
    q = torch.randn(sum(q_lens), hq, d, generator=g)
    cu = torch.tensor([0, *torch.tensor(q_lens).cumsum(0).tolist()], dtype=torch.int32)
    return q, k_cache, v_cache, bt, cu, torch.tensor(kv_lens, dtype=torch.int32)


def dense_reference(q, k_cache, v_cache, bt, cu, kv_lens):
    out = []
    hq, hkv = q.shape[1], k_cache.shape[2]
    for b, n in enumerate(kv_lens.tolist()):
        k = k_cache[bt[b][bt[b] >= 0].long()].flatten(0, 1)[:n].double()
        v = v_cache[bt[b][bt[b] >= 0].long()].flatten(0, 1)[:n].double()
        k, v = k.repeat_interleave(hq // hkv, 1), v.repeat_interleave(hq // hkv, 1)
        qs = q[cu[b]:cu[b + 1]].double()
        scores = torch.einsum("qhd,khd->hqk", qs, k) / math.sqrt(q.shape[-1])
        qpos = n - qs.shape[0] + torch.arange(qs.shape[0])
        scores = scores.masked_fill(torch.arange(n)[None, :] > qpos[:, None], float("-inf"))
        out.append(torch.einsum("hqk,khd->qhd", scores.softmax(-1), v))
    return torch.cat(out).float()


@pytest.mark.parametrize("fn", [append_attention_sdpa, append_attention_split])
def test_torch_backends_match_dense_reference(fn):
    q, kc, vc, bt, cu, lens = paged_case()
    got = fn(q, kc, vc, bt, cu, lens, scale=q.shape[-1] ** -0.5, split_size=16)
    torch.testing.assert_close(got, dense_reference(q, kc, vc, bt, cu, lens), atol=2e-5,
                               rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1",
                    reason="Triton on CPU needs TRITON_INTERPRET=1 (scripts/test.sh sets it)")
def test_triton_backend_matches_the_reference():
    fn = select_attention("triton", batch_invariant=True)
    q, kc, vc, bt, cu, lens = paged_case(q_lens=(2, 1), kv_lens=(18, 5))
    got = fn(q, kc, vc, bt, cu, lens, scale=q.shape[-1] ** -0.5, split_size=16)
    torch.testing.assert_close(got, dense_reference(q, kc, vc, bt, cu, lens), atol=2e-5,
                               rtol=1e-5)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown attention backend 'cuda'"):
        select_attention("cuda", batch_invariant=False)


@pytest.mark.parametrize("q_len", [1, 5])
@pytest.mark.parametrize("tables", [[[3, 4, 5, 6]], [[7, 8, 0, 1, 2, 12]], [[9], [0, 1, 2, 3]]])
def test_contiguous_runs_are_read_in_place_and_match(tables, q_len):
    """Decodes over <= MAX_RUNS runs, and extends over one run, read the cache without a
    gather; the result is the same attention."""
    g = torch.Generator().manual_seed(1)
    block, hq, hkv, d = 16, 4, 2, 16
    k_cache = torch.randn(13, block, hkv, d, generator=g)
    v_cache = torch.randn(13, block, hkv, d, generator=g)
    lens = [len(t) * block - 5 for t in tables]
    width = max(len(t) for t in tables)
    bt = torch.tensor([t + [-1] * (width - len(t)) for t in tables], dtype=torch.int32)
    q = torch.randn(len(tables) * q_len, hq, d, generator=g)
    cu = torch.arange(len(tables) + 1, dtype=torch.int32) * q_len
    kv_lens = torch.tensor(lens, dtype=torch.int32)
    got = append_attention_sdpa(q, k_cache, v_cache, bt, cu, kv_lens, scale=d ** -0.5)
    torch.testing.assert_close(got, dense_reference(q, k_cache, v_cache, bt, cu, kv_lens),
                               atol=2e-5, rtol=1e-5)
