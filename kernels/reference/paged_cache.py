"""Builds paged-KV batches (docs/kv_layout.md) from dense per-session K/V, for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PagedBatch:
    """The arguments of `append_attention`, in order, minus `scale` and `split_size`."""

    q: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    block_tables: torch.Tensor
    cu_q_lens: torch.Tensor
    kv_lens: torch.Tensor

    def args(self) -> tuple[torch.Tensor, ...]:
        return (self.q, self.k_cache, self.v_cache, self.block_tables, self.cu_q_lens, self.kv_lens)

    def session(self, b: int) -> PagedBatch:
        """Session b alone, over the same cache: what a batch of one would pass."""
        start, end = (int(x) for x in self.cu_q_lens[b : b + 2])
        return PagedBatch(
            q=self.q[start:end],
            k_cache=self.k_cache,
            v_cache=self.v_cache,
            block_tables=self.block_tables[b : b + 1],
            cu_q_lens=torch.tensor([0, end - start], dtype=torch.int32, device=self.q.device),
            kv_lens=self.kv_lens[b : b + 1],
        )


def page_tables(kv_capacity: list[int], block_size: int, seed: int) -> tuple[torch.Tensor, int]:
    """Scattered block tables (a random permutation of pages) and the number of pages used."""
    n_blocks = [-(-n // block_size) for n in kv_capacity]
    total = sum(n_blocks)
    gen = torch.Generator().manual_seed(seed)
    # two spare pages at the end stay unused, so out-of-range tests have a real cache to miss
    perm = torch.randperm(total + 2, generator=gen)[:total].to(torch.int32)
    tables = torch.full((len(n_blocks), max(n_blocks, default=0) or 1), -1, dtype=torch.int32)
    start = 0
    for b, n in enumerate(n_blocks):
        tables[b, :n] = perm[start : start + n]
        start += n
    return tables, total + 2


def write_tokens(
    cache: torch.Tensor, table: torch.Tensor, start: int, values: torch.Tensor
) -> None:
    """Write `values` [n, H, D] at positions start..start+n-1 of the session with `table`."""
    block_size = cache.shape[1]
    pos = torch.arange(start, start + values.shape[0])
    cache[table[pos // block_size].long(), pos % block_size] = values


def random_paged_batch(
    q_lens: list[int],
    kv_lens: list[int],
    *,
    num_q_heads: int,
    num_kv_heads: int,
    head_dim: int,
    block_size: int = 16,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    seed: int = 0,
) -> PagedBatch:
    """Random q/K/V for sessions with the given chunk and KV lengths.

    Cache slots no session owns (spare pages, page tails past kv_len) hold NaN, so a kernel
    that reads outside a session's KV, or fails to mask it, produces NaN.
    """
    gen = torch.Generator().manual_seed(seed)
    tables, num_blocks = page_tables(kv_lens, block_size, seed)
    shape = (num_blocks, block_size, num_kv_heads, head_dim)
    k_cache = torch.full(shape, float("nan"), dtype=dtype)
    v_cache = torch.full(shape, float("nan"), dtype=dtype)
    for b, n in enumerate(kv_lens):
        kv_shape = (n, num_kv_heads, head_dim)
        write_tokens(k_cache, tables[b], 0, torch.randn(kv_shape, generator=gen).to(dtype))
        write_tokens(v_cache, tables[b], 0, torch.randn(kv_shape, generator=gen).to(dtype))
    q = torch.randn((sum(q_lens), num_q_heads, head_dim), generator=gen).to(dtype)
    cu = torch.tensor([0, *torch.tensor(q_lens).cumsum(0).tolist()], dtype=torch.int32)
    return PagedBatch(
        q=q.to(device),
        k_cache=k_cache.to(device),
        v_cache=v_cache.to(device),
        block_tables=tables.to(device),
        cu_q_lens=cu.to(device),
        kv_lens=torch.tensor(kv_lens, dtype=torch.int32, device=device),
    )
