"""Split-KV decode attention: one new query per session over the paged KV cache.

What: the q_len = 1 case of `kernels.append_attention`, taking `q` as `[batch, Hq, D]`
without `cu_q_lens`. It launches the same `_split_kernel` with `DECODE=True`, which only
drops the per-session query-length loads and uses the equivalent mask `key < kv_len`
(for q_len = 1, `key <= kv_len - 1`): the arithmetic, tile shapes, split rule and merge
order are the append kernel's, so its output is bitwise equal to `append_attention` with
one query per session (tests/kernels/test_decode_attention.py checks it).

Origin: flash-decoding's split-KV with a fixed, left-aligned split rule (see
kernels/append_attention.py). A separate decode kernel with a smaller query tile would be
faster when GROUP is small, but tensor-core tile shapes may change the summation order,
which would break decode == append bitwise; so the specialisation stops at the launcher.

Caveats: as for append_attention (host-side planning, fp32 split buffers).
GPUs tested: none yet.
"""

from __future__ import annotations

import torch

from kernels.append_attention import run_split_attention
from kernels.paged_kv_checks import check_paged_attention_inputs
from kernels.split_plan import HostMetadata, plan_splits


def decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    kv_lens: torch.Tensor,
    *,
    scale: float,
    split_size: int = 256,
) -> torch.Tensor:
    """`q` [batch, Hq, D] (query b is session b's token at position kv_lens[b] - 1) -> [batch, Hq, D]."""
    if q.dim() != 3 or q.shape[0] != block_tables.shape[0]:
        raise ValueError(
            f"decode q must be [batch={block_tables.shape[0]}, num_q_heads, head_dim], "
            f"got {list(q.shape)}"
        )
    # on the CPU: no device round trip (the DECODE kernel never reads it anyway)
    cu_q_lens = torch.arange(q.shape[0] + 1, dtype=torch.int32)
    host = check_paged_attention_inputs(
        q, k_cache, v_cache, block_tables, cu_q_lens, kv_lens, split_size, scale
    )
    plan = plan_splits(host, HostMetadata(cu_q_lens, kv_lens, block_tables), split_size, q.device)
    return run_split_attention(
        q, k_cache, v_cache, plan, scale=scale, split_size=split_size, decode=True
    )
