"""Plain PyTorch RMSNorm as in Hugging Face Qwen3/Llama (fp32 statistics, weight in the model dtype)."""

from __future__ import annotations

import torch


def rmsnorm_ref(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """`x` [..., H], `weight` [H] -> same shape and dtype as `x`."""
    # fp32 statistics, or fp64 when x is fp64 (the exact reference the tests compare to)
    xf = x.to(torch.promote_types(x.dtype, torch.float32))
    variance = xf.pow(2).mean(-1, keepdim=True)
    normed = (xf * torch.rsqrt(variance + eps)).to(x.dtype)
    return weight * normed
