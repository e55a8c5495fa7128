"""Qwen3-MoE's sparse MLP block: softmax router, top-k experts per token, SwiGLU experts.

Default path: one GEMM per expert over the tokens routed to it, accumulated with
index_add_ (order of experts). Batch-invariant path: expert GEMMs in fixed row tiles, each
token's k expert outputs kept apart and summed in its own top-k order, so the sum never
depends on which other tokens share the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model_server.models.layers import gated_mlp, linear


@dataclass(frozen=True, slots=True)
class MoEWeights:
    """Router [E, H]; per-expert fused gate_up [E, 2I, H] and down [E, H, I]."""

    router: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor
    top_k: int
    norm_topk_prob: bool


def route(x: torch.Tensor, w: MoEWeights, tile: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k expert ids [T, k] and their weights [T, k] (in x's dtype), as the HF reference."""
    probs = torch.softmax(linear(x, w.router, None, tile).float(), dim=-1)
    weights, experts = torch.topk(probs, w.top_k, dim=-1)
    if w.norm_topk_prob:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return experts, weights.to(x.dtype)


def moe_mlp(x: torch.Tensor, w: MoEWeights, tile: int = 0) -> torch.Tensor:
    """The sparse MLP for x [T, H]."""
    experts, weights = route(x, w, tile)
    if tile > 0:
        per_slot = x.new_zeros(x.shape[0], w.top_k, x.shape[1])
    else:
        out = torch.zeros_like(x)
    for e in torch.unique(experts).tolist():
        tok, slot = torch.nonzero(experts == e, as_tuple=True)
        y = gated_mlp(x[tok], w.gate_up[e], w.down[e], tile) * weights[tok, slot, None]
        if tile > 0:
            per_slot[tok, slot] = y
        else:
            out.index_add_(0, tok, y)
    if tile <= 0:
        return out
    total = per_slot[:, 0]
    for k in range(1, w.top_k):
        total = total + per_slot[:, k]
    return total
