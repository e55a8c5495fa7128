"""The paged KV cache (docs/kv_layout.md): per-layer block tensors and a free-list block pool.

Eviction for long sessions lives here too: dropping a range of positions moves the kept rows
down and re-rotates their keys by -delta, so every key stays rotated for its own position.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch

from model_server.core import RequestError
from model_server.models.config import ModelConfig
from model_server.models.layers import RopeTable, apply_rope


@dataclass(frozen=True, slots=True)
class KVCache:
    """k[layer], v[layer]: [num_blocks, block_size, num_kv_heads, head_dim]."""

    k: list[torch.Tensor]
    v: list[torch.Tensor]
    block_size: int

    @classmethod
    def create(cls, cfg: ModelConfig, num_blocks: int, block_size: int, dtype: torch.dtype,
               device) -> KVCache:
        if block_size <= 0 or block_size & (block_size - 1):
            raise ValueError(f"block_size must be a power of two, got {block_size}")
        shape = (num_blocks, block_size, cfg.num_kv_heads, cfg.head_dim)
        return cls([torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.num_layers)],
                   [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.num_layers)],
                   block_size)

    @staticmethod
    def bytes_per_block(cfg: ModelConfig, block_size: int, dtype: torch.dtype) -> int:
        elem = torch.empty((), dtype=dtype).element_size()
        return 2 * cfg.num_layers * block_size * cfg.num_kv_heads * cfg.head_dim * elem

    @property
    def num_blocks(self) -> int:
        return self.k[0].shape[0]


class BlockPool:
    """Free blocks; allocation past the budget raises a RequestError (429/413).

    `allocate(n, after=b)` prefers b+1, b+2, ... when free, so a session's blocks form long
    contiguous runs that decode attention can read in place (attention._decode_in_place).
    """

    def __init__(self, num_blocks: int):
        if num_blocks <= 0:
            raise ValueError(f"the KV budget must hold at least one block, got {num_blocks}")
        self.num_blocks = num_blocks
        self._free = set(range(num_blocks))
        self._order = deque(range(num_blocks))  # release order; may hold taken (stale) ids

    @property
    def free(self) -> int:
        return len(self._free)

    @property
    def used(self) -> int:
        return self.num_blocks - len(self._free)

    def allocate(self, n: int, after: int | None = None) -> list[int]:
        if n > self.num_blocks:
            raise RequestError(413, f"request needs {n} KV blocks but the whole KV budget is "
                                    f"{self.num_blocks} blocks; send a shorter chunk or fewer "
                                    "max_new_tokens, or start the server with a larger "
                                    "--kv-budget")
        if n > len(self._free):
            raise RequestError(429, f"KV cache full: request needs {n} blocks, {len(self._free)} "
                                    f"of {self.num_blocks} free; retry later or close idle "
                                    "sessions", retry_after=1.0)
        blocks = []
        nxt = None if after is None else after + 1
        while len(blocks) < n:
            if nxt not in self._free:
                nxt = self._order.popleft()
                while nxt not in self._free:
                    nxt = self._order.popleft()
            self._free.remove(nxt)
            blocks.append(nxt)
            nxt += 1
        return blocks

    def release(self, blocks: list[int]) -> None:
        self._free.update(blocks)
        self._order.extend(blocks)
        if len(self._order) > 2 * self.num_blocks:  # drop the stale ids now and then
            order: deque[int] = deque()
            seen: set[int] = set()
            for b in self._order:
                if b in self._free and b not in seen:
                    seen.add(b)
                    order.append(b)
            self._order = order


def slots_for(table: list[int], start: int, end: int, block_size: int) -> torch.Tensor:
    """Flat KV row indices of positions [start, end) through a block table."""
    pos = torch.arange(start, end)
    blocks = torch.tensor(table, dtype=torch.long)[pos // block_size]
    return blocks * block_size + pos % block_size


def evict_rows(kv: KVCache, table: list[int], start: int, end: int, length: int,
               rope: RopeTable) -> int:
    """Drop positions [start, end) of a session's KV; rows after them move down by
    delta = end - start and their keys are rotated by -delta. Returns the new length."""
    delta = end - start
    if not 0 <= start < end <= length:
        raise ValueError(f"bad eviction range [{start}, {end}) of length {length}")
    device = kv.k[0].device
    src = slots_for(table, end, length, kv.block_size).to(device)
    dst = slots_for(table, start, length - delta, kv.block_size).to(device)
    for k_cache, v_cache in zip(kv.k, kv.v):
        flat_k = k_cache.view(-1, *k_cache.shape[2:])
        flat_v = v_cache.view(-1, *v_cache.shape[2:])
        cos, sin = rope.shift(delta, torch.float32, k_cache.device)
        keys = apply_rope(flat_k[src].float(), cos, sin).to(k_cache.dtype)
        values = flat_v[src].clone()
        flat_k[dst] = keys
        flat_v[dst] = values
    return length - delta
