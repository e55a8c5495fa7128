"""Plain PyTorch RMSNorm as in Hugging Face Qwen3/Llama (fp32 statistics, weight in the model dtype)."""

from __future__ import annotations

import torch


def rmsnorm_ref(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """`x` [..., H], `weight` [H] -> same shape and dtype as `x`."""
    xf = x.float()
    variance = xf.pow(2).mean(-1, keepdim=True)
    normed = (xf * torch.rsqrt(variance + eps)).to(x.dtype)
    return weight * normed
