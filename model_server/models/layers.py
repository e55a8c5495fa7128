"""The decoder's building blocks as pure functions: linear, RMSNorm, RoPE, gated MLP.

`tile` > 0 selects the batch-invariant path: CPU GEMM kernels pick their blocking (and so
their summation order) from the row count M, so a row's result would depend on how many
other rows share the call. Running every linear in fixed `tile`-row calls, padding the last,
gives each row the same GEMM shape whatever the batch (measured: a row's output in a fixed
M-row call does not depend on its position in the tile or on its neighbours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
           tile: int = 0) -> torch.Tensor:
    """x [N, K] @ w[M, K].T (+ b); in fixed `tile`-row GEMMs when tile > 0."""
    if tile <= 0:
        return F.linear(x, w, b)
    n = x.shape[0]
    pad = (-n) % tile
    if pad:
        x = torch.cat([x, x.new_zeros(pad, x.shape[1])])
    parts = [F.linear(x[i:i + tile], w, b) for i in range(0, n + pad, tile)]
    return torch.cat(parts)[:n]


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm over the last dim, in fp32 like the HF reference, one row at a time by design."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return w * x32.to(x.dtype)


def gated_mlp(x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor,
              tile: int = 0) -> torch.Tensor:
    """SwiGLU MLP with the gate and up projections fused into one weight [2I, H]."""
    g, u = linear(x, gate_up, None, tile).chunk(2, dim=-1)
    return linear(F.silu(g) * u, down, None, tile)


def rope_inv_freq(head_dim: int, theta: float, scaling: dict) -> torch.Tensor:
    """RoPE inverse frequencies in float64, with the llama3 long-context scaling if given."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    if not scaling:
        return inv
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_len = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > old_len / low, inv / factor, inv)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
    return torch.where(medium, smoothed, scaled)


@dataclass(frozen=True, slots=True)
class RopeTable:
    """cos/sin [max_position, head_dim] for every position, and the frequencies for re-rotation."""

    cos: torch.Tensor
    sin: torch.Tensor
    inv_freq: torch.Tensor  # float64 [head_dim // 2]

    @classmethod
    def create(cls, head_dim: int, theta: float, scaling: dict, max_position: int,
               dtype: torch.dtype, device: torch.device | str) -> RopeTable:
        inv = rope_inv_freq(head_dim, theta, scaling)
        angles = torch.arange(max_position, dtype=torch.float64)[:, None] * inv[None, :]
        angles = torch.cat([angles, angles], dim=-1)
        return cls(angles.cos().to(dtype).to(device), angles.sin().to(dtype).to(device), inv)

    def shift(self, delta: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin [head_dim] of a rotation by -delta positions (RoPE rotations compose)."""
        angles = -delta * self.inv_freq
        angles = torch.cat([angles, angles])
        return angles.cos().to(dtype).to(device), angles.sin().to(dtype).to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [T, H, D] by per-row cos/sin [T, D] (or [D]), rotate-half convention."""
    if cos.dim() == 2:
        cos, sin = cos[:, None, :], sin[:, None, :]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin
