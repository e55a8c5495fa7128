"""Plain PyTorch attention over the paged KV cache: gather each session's K/V, then SDPA."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gather_session_kv(cache: torch.Tensor, block_table: torch.Tensor, kv_len: int) -> torch.Tensor:
    """Positions 0..kv_len-1 of one session from a `[num_blocks, block_size, H, D]` cache."""
    block_size = cache.shape[1]
    n_blocks = -(-kv_len // block_size)
    pages = cache[block_table[:n_blocks].long()]  # [n_blocks, block_size, H, D]
    return pages.reshape(-1, *cache.shape[2:])[:kv_len]


def append_attention_ref(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    cu_q_lens: torch.Tensor,
    kv_lens: torch.Tensor,
    *,
    scale: float,
    split_size: int = 256,
) -> torch.Tensor:
    """Same contract as `kernels.append_attention.append_attention` (docs/kv_layout.md).

    `split_size` is accepted for signature compatibility and ignored: SDPA sees the
    whole context at once, so this path is exact-softmax but not batch-invariant.
    """
    del split_size
    num_q_heads, num_kv_heads = q.shape[1], k_cache.shape[2]
    group = num_q_heads // num_kv_heads
    out = torch.empty_like(q)
    cu = cu_q_lens.tolist()
    lens = kv_lens.tolist()
    for b, kv_len in enumerate(lens):
        start, end = cu[b], cu[b + 1]
        q_len = end - start
        if q_len == 0:
            continue
        k = gather_session_kv(k_cache, block_tables[b], kv_len)
        v = gather_session_kv(v_cache, block_tables[b], kv_len)
        # [1, H, L, D] with KV heads repeated for GQA
        qs = q[start:end].transpose(0, 1).unsqueeze(0)
        ks = k.transpose(0, 1).repeat_interleave(group, dim=0).unsqueeze(0)
        vs = v.transpose(0, 1).repeat_interleave(group, dim=0).unsqueeze(0)
        # query j sits at position kv_len - q_len + j and sees keys 0..=that
        q_pos = torch.arange(kv_len - q_len, kv_len, device=q.device)
        mask = torch.arange(kv_len, device=q.device)[None, :] <= q_pos[:, None]
        o = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=mask, scale=scale)
        out[start:end] = o.squeeze(0).transpose(0, 1)
    return out


def decode_attention_ref(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    kv_lens: torch.Tensor,
    *,
    scale: float,
    split_size: int = 256,
) -> torch.Tensor:
    """One query per session (`q` is `[batch, Hq, D]`): `append_attention_ref` with q_len 1."""
    cu_q_lens = torch.arange(q.shape[0] + 1, dtype=torch.int32, device=q.device)
    return append_attention_ref(
        q, k_cache, v_cache, block_tables, cu_q_lens, kv_lens, scale=scale, split_size=split_size
    )
