"""Plain PyTorch Qwen3-MoE expert block: a loop over the routed experts (SwiGLU, weighted sum)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def moe_experts_ref(
    x: torch.Tensor,
    gate_up_proj: torch.Tensor,
    down_proj: torch.Tensor,
    top_k_index: torch.Tensor,
    top_k_weights: torch.Tensor,
) -> torch.Tensor:
    """`x` [T, H]; `gate_up_proj` [E, 2I, H]; `down_proj` [E, H, I]; `top_k_*` [T, K] -> [T, H].

    The layout and arithmetic of transformers' Qwen3MoeExperts: per expert, every op in
    the model dtype, the output scaled by the router weight and index-added into the
    token's row.
    """
    out = torch.zeros_like(x)
    for expert in torch.unique(top_k_index).tolist():
        token_idx, slot = torch.nonzero(top_k_index == expert, as_tuple=True)
        gate, up = F.linear(x[token_idx], gate_up_proj[expert]).chunk(2, dim=-1)
        y = F.linear(F.silu(gate) * up, down_proj[expert])
        y = y * top_k_weights[token_idx, slot, None]
        out.index_add_(0, token_idx, y.to(out.dtype))
    return out
