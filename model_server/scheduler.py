"""The scheduler: each step runs every session's pending work in one batched forward.

A request enters `waiting` once admitted (session checked, window made room, blocks
reserved). A step takes every running request's next decode token plus waiting requests'
whole chunks (extends) up to the step's token budget, and packs them into one Batch.
"""

from __future__ import annotations

from collections import deque

import torch

from model_server.core import Batch, Req
from model_server.kv_cache import slots_for
from model_server.session import Session


class Scheduler:
    def __init__(self, max_step_tokens: int):
        self.max_step_tokens = max_step_tokens
        self.waiting: deque[Req] = deque()  # extend not yet run
        self.running: deque[Req] = deque()  # decoding one token a step

    def add(self, req: Req) -> None:
        self.waiting.append(req)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def next_step(self) -> list[Req]:
        """Every decode, then waiting extends in arrival order while the token budget lasts
        (always at least one, so an extend larger than the budget still runs)."""
        step = list(self.running)
        budget = self.max_step_tokens - len(step)
        while self.waiting and (len(self.waiting[0].feed) <= budget or not step):
            req = self.waiting.popleft()
            budget -= len(req.feed)
            step.append(req)
        return step

    def after_step(self, reqs: list[Req]) -> None:
        """Requests still unfinished decode from now on; finished ones leave."""
        self.running = deque(r for r in reqs if not r.finished)

    def remove(self, req: Req) -> None:
        for q in (self.waiting, self.running):
            if req in q:
                q.remove(req)


def build_batch(reqs: list[Req], sessions: list[Session], block_size: int,
                device) -> tuple[Batch, list[tuple[int, int]]]:
    """Pack the step's requests; also return each request's rows in the logits output."""
    ids, positions, slots, cu, kv_lens, logits_index = [], [], [], [0], [], []
    embed_index, embed_rows, spans = [], [], []
    max_blocks = max(len(s.blocks) for s in sessions)
    tables = torch.full((len(reqs), max_blocks), -1, dtype=torch.int32)
    row = 0
    for b, (req, s) in enumerate(zip(reqs, sessions)):
        n = len(req.feed)
        ids.extend(req.feed)
        positions.append(torch.arange(s.kv_len, s.kv_len + n))
        slots.append(slots_for(s.blocks, s.kv_len, s.kv_len + n, block_size))
        tables[b, :len(s.blocks)] = torch.tensor(s.blocks, dtype=torch.int32)
        kv_lens.append(s.kv_len + n)
        cu.append(cu[-1] + n)
        first = len(logits_index)
        logits_index.extend(range(row, row + n) if req.return_logits else [row + n - 1])
        spans.append((first, len(logits_index)))
        if req.embed_rows is not None and not req.output_ids and req.feed_embed_offset >= 0:
            embed_index.extend(row + req.feed_embed_offset + p for p in req.embed_positions)
            embed_rows.append(req.embed_rows)
        row += n
    batch = Batch(
        input_ids=torch.tensor(ids, dtype=torch.long, device=device),
        positions=torch.cat(positions).to(device),
        slots=torch.cat(slots).to(device),
        block_tables=tables.to(device),
        cu_q_lens=torch.tensor(cu, dtype=torch.int32, device=device),
        kv_lens=torch.tensor(kv_lens, dtype=torch.int32, device=device),
        logits_index=torch.tensor(logits_index, dtype=torch.long, device=device),
        embed_index=torch.tensor(embed_index, dtype=torch.long, device=device)
        if embed_index else None,
        embed_rows=torch.cat(embed_rows).to(device) if embed_rows else None,
    )
    return batch, spans
