"""Attention over the paged KV cache, per the contract in docs/kv_layout.md.

Backends (all share `append_attention`'s signature):
- "torch": gathers each session's KV and calls SDPA (fast default), or, in batch-invariant
  mode, walks the KV in fixed `split_size` splits left-aligned at position 0, merging each
  split's partial softmax in split order in fp32 with fixed-shape GEMMs (queries in tiles of
  QUERY_TILE rows), so a query's result never depends on its neighbours or on chunking.
- "triton": `kernels.append_attention.append_attention`, imported when first selected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
import torch.nn.functional as F

QUERY_TILE = 16
MASKED = -1e30  # finite, so a fully masked split merges with weight exp(-1e30 - m) == 0


def _gather(cache: torch.Tensor, table: torch.Tensor, length: int) -> torch.Tensor:
    block = cache.shape[1]
    n = -(-length // block)
    return cache.index_select(0, table[:n].long()).flatten(0, 1)[:length]  # 3x faster than []


MAX_RUNS = 4  # decode reads up to this many contiguous block runs in place, else gathers


def _block_runs(ids: list[int]) -> list[tuple[int, int]]:
    """(first block, count) of each run of consecutive block ids."""
    runs: list[tuple[int, int]] = []
    for b in ids:
        if runs and runs[-1][0] + runs[-1][1] == b:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((b, 1))
    return runs


def _decode_in_place(q1, k_cache, v_cache, runs, length, scale):
    """One query [Hq, D] over a session whose blocks form a few contiguous runs: views of
    the cache, no copy; scores of all runs share one softmax."""
    block, hkv = k_cache.shape[1], k_cache.shape[2]
    qg = q1.view(hkv, -1, q1.shape[-1])
    keys, values, left = [], [], length
    for first, count in runs:
        rows = min(count * block, left)
        left -= rows
        keys.append(k_cache[first:first + count].flatten(0, 1)[:rows].transpose(0, 1))
        values.append(v_cache[first:first + count].flatten(0, 1)[:rows].transpose(0, 1))
    scores = torch.cat([torch.matmul(qg, k.transpose(1, 2)) for k in keys], dim=-1) * scale
    p = torch.softmax(scores, dim=-1)
    out, at = None, 0
    for v in values:
        part = torch.matmul(p[..., at:at + v.shape[1]], v)
        out = part if out is None else out + part
        at += v.shape[1]
    return out.reshape(q1.shape)


def append_attention_sdpa(q, k_cache, v_cache, block_tables, cu_q_lens, kv_lens, *,
                          scale: float, split_size: int = 256) -> torch.Tensor:
    """Fast path: per session gather + SDPA, causal within the chunk (bottom-right aligned)."""
    out = torch.empty_like(q)
    cu, lens = cu_q_lens.tolist(), kv_lens.tolist()
    for b, length in enumerate(lens):
        q0, q1 = cu[b], cu[b + 1]
        n = q1 - q0
        nblocks = -(-length // k_cache.shape[1])
        runs = _block_runs(block_tables[b, :nblocks].tolist())
        if n == 1 and len(runs) <= MAX_RUNS:
            out[q0] = _decode_in_place(q[q0], k_cache, v_cache, runs, length, scale)
            continue
        if len(runs) == 1:  # one run: a view of the cache, no copy
            first = runs[0][0]
            k = k_cache[first:first + nblocks].flatten(0, 1)[:length].transpose(0, 1)
            v = v_cache[first:first + nblocks].flatten(0, 1)[:length].transpose(0, 1)
        else:
            k = _gather(k_cache, block_tables[b], length).transpose(0, 1)
            v = _gather(v_cache, block_tables[b], length).transpose(0, 1)
        if n == 1:  # decode: group the query heads per KV head instead of repeating K/V
            hkv = k.shape[0]
            qg = q[q0].view(hkv, -1, q.shape[-1])
            p = torch.softmax(torch.matmul(qg, k.transpose(1, 2)) * scale, dim=-1)
            out[q0] = torch.matmul(p, v).reshape(q.shape[1:])
            continue
        qpos = torch.arange(length - n, length, device=q.device)
        mask = torch.arange(length, device=q.device)[None, :] <= qpos[:, None]
        o = F.scaled_dot_product_attention(q[q0:q1].transpose(0, 1)[None], k[None], v[None],
                                           attn_mask=mask, scale=scale, enable_gqa=True)
        out[q0:q1] = o[0].transpose(0, 1)
    return out


def _split_kv(cache, table, start, split, length, group):
    """KV rows [start, start + split) as fp32 [Hq, split, D], zero past `length`."""
    block = cache.shape[1]
    ids = table[start // block:(start + split) // block].long()
    if ids.shape[0] < split // block:
        ids = torch.cat([ids, ids.new_full((split // block - ids.shape[0],), -1)])
    rows = cache[ids.clamp(min=0)].flatten(0, 1).float()
    pos = torch.arange(start, start + split, device=cache.device)
    rows = torch.where((pos < length)[:, None, None], rows, 0.0)
    return rows.transpose(0, 1).repeat_interleave(group, dim=0)


def append_attention_split(q, k_cache, v_cache, block_tables, cu_q_lens, kv_lens, *,
                           scale: float, split_size: int = 256) -> torch.Tensor:
    """Batch-invariant path: fixed left-aligned KV splits merged in order (fp32)."""
    _, hq, d = q.shape
    group = hq // k_cache.shape[2]
    if split_size % k_cache.shape[1]:
        raise ValueError(f"split_size {split_size} must be a multiple of the block size "
                         f"{k_cache.shape[1]}")
    out = torch.empty_like(q)
    cu, lens = cu_q_lens.tolist(), kv_lens.tolist()
    for b, length in enumerate(lens):
        q0, q1 = cu[b], cu[b + 1]
        n = q1 - q0
        tiles = -(-n // QUERY_TILE)
        qp = q.new_zeros(tiles * QUERY_TILE, hq, d, dtype=torch.float32)
        qp[:n] = q[q0:q1]
        qt = qp.view(tiles, QUERY_TILE, hq, d).transpose(1, 2).reshape(-1, QUERY_TILE, d)
        qpos = (length - n + torch.arange(tiles * QUERY_TILE, device=q.device))
        qpos = qpos.view(tiles, 1, QUERY_TILE, 1)
        m = l = acc = None
        for start in range(0, length, split_size):
            ks = _split_kv(k_cache, block_tables[b], start, split_size, length, group)
            vs = _split_kv(v_cache, block_tables[b], start, split_size, length, group)
            ks = ks.transpose(1, 2)[None].expand(tiles, -1, -1, -1).reshape(-1, d, split_size)
            vs = vs[None].expand(tiles, -1, -1, -1).reshape(-1, split_size, d)
            scores = torch.bmm(qt, ks) * scale
            kpos = torch.arange(start, start + split_size, device=q.device)
            visible = (kpos <= qpos) & (kpos < length)  # [tiles, 1, QT, split]
            visible = visible.expand(-1, hq, -1, -1).reshape(scores.shape)
            scores = torch.where(visible, scores, MASKED)
            ms = scores.amax(-1, keepdim=True)
            p = torch.exp(scores - ms)
            ls = p.sum(-1, keepdim=True)
            accs = torch.bmm(p, vs)
            if m is None:
                m, l, acc = ms, ls, accs
                continue
            new_m = torch.maximum(m, ms)
            a, c = torch.exp(m - new_m), torch.exp(ms - new_m)
            m, l, acc = new_m, l * a + ls * c, acc * a + accs * c
        res = (acc / l).view(tiles, hq, QUERY_TILE, d).transpose(1, 2).reshape(-1, hq, d)
        out[q0:q1] = res[:n].to(q.dtype)
    return out


def select_attention(backend: str, batch_invariant: bool) -> Callable[..., torch.Tensor]:
    """The attention function for --attention-backend {torch,triton}."""
    if backend == "torch":
        return append_attention_split if batch_invariant else append_attention_sdpa
    if backend == "triton":
        try:
            module = importlib.import_module("kernels.append_attention")
            return module.append_attention
        except (ImportError, AttributeError) as e:
            raise RuntimeError(
                "--attention-backend triton needs kernels.append_attention.append_attention "
                f"(docs/kv_layout.md) and a working Triton install: {e}. "
                "Use --attention-backend torch.") from e
    raise ValueError(f"unknown attention backend {backend!r}; choose 'torch' or 'triton'")
