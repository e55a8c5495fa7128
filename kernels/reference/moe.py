"""Plain PyTorch Qwen3-MoE expert block: a loop over the routed experts (SwiGLU, weighted sum)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def moe_experts_ref(
    x: torch.Tensor,
    w_gate: torch.Tensor,
    w_up: torch.Tensor,
    w_down: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_weights: torch.Tensor,
) -> torch.Tensor:
    """`x` [T, H]; `w_gate`, `w_up` [E, I, H]; `w_down` [E, H, I]; `topk_*` [T, K] -> [T, H].

    Mirrors the Hugging Face Qwen3-MoE loop: every op in the model dtype, each expert's
    output scaled by its router weight and added into the token's row.
    """
    out = torch.zeros_like(x)
    for expert in torch.unique(topk_ids).tolist():
        token_idx, slot = torch.nonzero(topk_ids == expert, as_tuple=True)
        xe = x[token_idx]
        h = F.silu(xe @ w_gate[expert].T) * (xe @ w_up[expert].T)
        ye = (h @ w_down[expert].T) * topk_weights[token_idx, slot, None].to(x.dtype)
        out.index_add_(0, token_idx, ye)
    return out
