"""append_attention vs SDPA over gathered KV, and its exact invariances (batch, chunking)."""

from __future__ import annotations

import pytest
import torch

from kernels.append_attention import append_attention
from kernels.decode_attention import decode_attention
from kernels.paged_kv_checks import INTERPRET
from kernels.reference.attention import append_attention_ref
from kernels.reference.paged_cache import PagedBatch, random_paged_batch, write_tokens
from tests.kernels.kernel_tolerance import assert_within_torch_error

DEVICE = "cpu" if INTERPRET else "cuda"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("num_q_heads", "num_kv_heads", "head_dim", "split_size"),
    [
        (13, 1, 64, 64),  # one GQA group of a prime size
        (7, 7, 64, 256),  # MHA, default split
        (6, 2, 128, 32),  # production head dim, more splits than blocks per split
        (10, 5, 24, 96),  # head dim not a power of two, splits of 6 pages (not a power of 2)
    ],
)
def test_matches_sdpa_on_ragged_batch(dtype, num_q_heads, num_kv_heads, head_dim, split_size):
    # contexts 1, 17, 515 with chunks 1, 5, 9 (block size 16): decode-, short- and long-context rows
    batch = random_paged_batch(
        [1, 5, 9],
        [1, 17, 515],
        num_q_heads=num_q_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        dtype=dtype,
        device=DEVICE,
        seed=num_q_heads * head_dim,
    )
    scale = head_dim**-0.5
    out = append_attention(*batch.args(), scale=scale, split_size=split_size)
    torch_out = append_attention_ref(*batch.args(), scale=scale)
    exact = append_attention_ref(
        batch.q.double(),
        batch.k_cache.double(),
        batch.v_cache.double(),
        batch.block_tables,
        batch.cu_q_lens,
        batch.kv_lens,
        scale=scale,
    )
    assert out.shape == batch.q.shape and out.dtype == dtype
    assert_within_torch_error(out, torch_out, exact, "append_attention")


def test_q_may_be_a_strided_view_of_a_fused_qkv():
    batch = random_paged_batch(
        [4, 2], [30, 70], num_q_heads=6, num_kv_heads=2, head_dim=32, device=DEVICE, seed=5
    )
    qkv = torch.zeros(batch.q.shape[0], 10, 32, device=DEVICE)  # 6 q heads, then 2 k, 2 v
    qkv[:, :6] = batch.q
    strided = PagedBatch(qkv[:, :6], *batch.args()[1:])
    assert not strided.q.is_contiguous()
    out = append_attention(*strided.args(), scale=0.2, split_size=32)
    assert torch.equal(out, append_attention(*batch.args(), scale=0.2, split_size=32))


def test_batch_invariance_is_bitwise():
    batch = random_paged_batch(
        [3, 1, 11, 0, 6],
        [3, 17, 80, 9, 200],
        num_q_heads=6,
        num_kv_heads=2,
        head_dim=32,
        dtype=torch.float16,
        device=DEVICE,
        seed=7,
    )
    full = append_attention(*batch.args(), scale=0.2, split_size=32)
    cu = batch.cu_q_lens.tolist()
    for b in range(5):
        alone = append_attention(*batch.session(b).args(), scale=0.2, split_size=32)
        assert torch.equal(full[cu[b] : cu[b + 1]], alone), f"session {b} changed with its batch"


def test_chunked_appends_equal_one_prefill_bitwise():
    """Prefix of 40 tokens, then 35 new tokens: one prefill vs chunks of 1, 7 and 32."""
    prefix, new, block_size, split = 40, 35, 16, 32
    gen = torch.Generator().manual_seed(3)
    hq, hkv, d = 4, 2, 32
    k = torch.randn(prefix + new, hkv, d, generator=gen).half()
    v = torch.randn(prefix + new, hkv, d, generator=gen).half()
    q = torch.randn(new, hq, d, generator=gen).half().to(DEVICE)
    n_pages = -(-(prefix + new) // block_size)
    table = torch.randperm(n_pages + 1, generator=gen)[:n_pages].to(torch.int32)

    def run(chunk: int) -> torch.Tensor:
        # a fresh cache per schedule; slots not yet written hold NaN
        k_cache = torch.full((n_pages + 1, block_size, hkv, d), float("nan")).half()
        v_cache = k_cache.clone()
        write_tokens(k_cache, table, 0, k[:prefix])
        write_tokens(v_cache, table, 0, v[:prefix])
        outs = []
        for start in range(0, new, chunk):
            end = min(start + chunk, new)
            write_tokens(k_cache, table, prefix + start, k[prefix + start : prefix + end])
            write_tokens(v_cache, table, prefix + start, v[prefix + start : prefix + end])
            step = PagedBatch(
                q=q[start:end],
                k_cache=k_cache.to(DEVICE),
                v_cache=v_cache.to(DEVICE),
                block_tables=table[None].to(DEVICE),
                cu_q_lens=torch.tensor([0, end - start], dtype=torch.int32, device=DEVICE),
                kv_lens=torch.tensor([prefix + end], dtype=torch.int32, device=DEVICE),
            )
            if chunk == 1:
                outs.append(
                    decode_attention(
                        step.q,
                        step.k_cache,
                        step.v_cache,
                        step.block_tables,
                        step.kv_lens,
                        scale=0.3,
                        split_size=split,
                    )
                )
            else:
                outs.append(append_attention(*step.args(), scale=0.3, split_size=split))
        return torch.cat(outs)

    prefill = run(new)
    for chunk in (1, 7, 32):
        assert torch.equal(run(chunk), prefill), f"chunks of {chunk} differ from one prefill"
