"""decode_attention is bitwise append_attention at q_len 1, and matches SDPA."""

from __future__ import annotations

import pytest
import torch

from kernels.append_attention import append_attention
from kernels.decode_attention import decode_attention
from kernels.paged_kv_checks import INTERPRET
from kernels.reference.attention import decode_attention_ref
from kernels.reference.paged_cache import random_paged_batch
from tests.kernels.kernel_tolerance import assert_within_torch_error

DEVICE = "cpu" if INTERPRET else "cuda"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
KV_LENS = [1, 17, 515, 64, 33]


def decode_batch(dtype: torch.dtype, num_q_heads: int, num_kv_heads: int, head_dim: int):
    return random_paged_batch(
        [1] * len(KV_LENS),
        KV_LENS,
        num_q_heads=num_q_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        dtype=dtype,
        device=DEVICE,
        seed=11,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("num_q_heads", "num_kv_heads", "head_dim"), [(13, 1, 64), (8, 2, 128)])
def test_decode_is_bitwise_append_at_one_query(dtype, num_q_heads, num_kv_heads, head_dim):
    batch = decode_batch(dtype, num_q_heads, num_kv_heads, head_dim)
    appended = append_attention(*batch.args(), scale=0.125, split_size=64)
    decoded = decode_attention(
        batch.q,
        batch.k_cache,
        batch.v_cache,
        batch.block_tables,
        batch.kv_lens,
        scale=0.125,
        split_size=64,
    )
    assert torch.equal(decoded, appended)


@pytest.mark.parametrize("dtype", DTYPES)
def test_decode_matches_sdpa(dtype):
    batch = decode_batch(dtype, 13, 1, 64)
    args = (batch.q, batch.k_cache, batch.v_cache, batch.block_tables, batch.kv_lens)
    out = decode_attention(*args, scale=0.125, split_size=64)
    torch_out = decode_attention_ref(*args, scale=0.125)
    exact = decode_attention_ref(
        batch.q.double(),
        batch.k_cache.double(),
        batch.v_cache.double(),
        batch.block_tables,
        batch.kv_lens,
        scale=0.125,
    )
    assert_within_torch_error(out, torch_out, exact, "decode_attention")


def test_decode_rejects_q_with_wrong_batch():
    batch = decode_batch(torch.float16, 13, 1, 64)
    with pytest.raises(ValueError, match=r"decode q must be \[batch=5"):
        decode_attention(
            batch.q[:3],
            batch.k_cache,
            batch.v_cache,
            batch.block_tables,
            batch.kv_lens,
            scale=0.125,
        )
