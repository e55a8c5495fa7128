"""The scheduler: each step runs every session's pending work in one batched forward.

A request enters `waiting` once admitted (session checked, window made room, blocks
reserved). A step takes every running request's next decode token plus waiting requests'
whole chunks (extends) up to the step's token budget, and packs them into one Batch.
"""

from __future__ import annotations

from collections import deque

import torch

from model_server.core import Batch, Req
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
    """Pack the step's requests; also return each request's rows in the logits output.
    Plain Python lists, one tensor each at the end: this runs every step."""
    ids, positions, slots, cu, kv_lens, logits_index = [], [], [], [0], [], []
    embed_index, embed_rows, spans = [], [], []
    width = max(len(s.blocks) for s in sessions)
    tables = []
    row = 0
    for req, s in zip(reqs, sessions):
        n, start = len(req.feed), s.kv_len
        ids += req.feed
        positions += range(start, start + n)
        slots += [s.blocks[p // block_size] * block_size + p % block_size
                  for p in range(start, start + n)]
        tables.append(s.blocks + [-1] * (width - len(s.blocks)))
        kv_lens.append(start + n)
        cu.append(cu[-1] + n)
        first = len(logits_index)
        logits_index += range(row, row + n) if req.return_logits else [row + n - 1]
        spans.append((first, len(logits_index)))
        if req.embed_rows is not None and not req.output_ids:
            embed_index += [row + req.feed_embed_offset + p for p in req.embed_positions]
            embed_rows.append(req.embed_rows)
        row += n

    def as_tensor(values, dtype=torch.long):
        return torch.tensor(values, dtype=dtype, device=device)

    batch = Batch(
        input_ids=as_tensor(ids), positions=as_tensor(positions), slots=as_tensor(slots),
        block_tables=as_tensor(tables, torch.int32), cu_q_lens=as_tensor(cu, torch.int32),
        kv_lens=as_tensor(kv_lens, torch.int32), logits_index=as_tensor(logits_index),
        embed_index=as_tensor(embed_index) if embed_index else None,
        embed_rows=torch.cat(embed_rows).to(device) if embed_rows else None,
    )
    return batch, spans
