"""Batch-invariant RMSNorm: one row per program, one fixed reduction order for a given width.

What: y = weight * (x / sqrt(mean(x^2) + eps)) over the last dimension, statistics in
fp32, the normalised row rounded to x's dtype before the weight multiply (as
transformers' Qwen3/Llama RMSNorm does, so both backends round at the same places).
Each program owns a whole row and reduces it with one `tl.sum` over a tile whose size
depends only on the row width, so a row's bits do not depend on how many rows are in the
call (the property a split-row or atomics-based norm loses).

Origin: the Triton layer-norm tutorial and Liger-Kernel's RMSNorm forward, reduced to
one row per program for invariance (Thinking Machines' batch-invariant ops make the same
choice).

Caveats: the whole row is one tile, so widths above 65536 are refused; forward only.
GPUs tested: none yet (CPU interpreter only).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.paged_kv_checks import ATTENTION_DTYPES, INTERPRET, check_device
from kernels.rounding import to_dtype

MAX_WIDTH = 65536


@triton.jit
def _rmsnorm_kernel(
    x_ptr,  # [rows, WIDTH] input, unit stride along the row
    w_ptr,  # [WIDTH] weight, x's dtype
    out_ptr,  # [rows, WIDTH] contiguous output, x's dtype
    stride_x,  # x stride between rows
    eps,  # added to the mean square
    WIDTH: tl.constexpr,  # row width
    BLOCK: tl.constexpr,  # WIDTH rounded up to a power of two
    INTERPRETER: tl.constexpr,  # under TRITON_INTERPRET: RNE bf16 casts
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    ok = cols < WIDTH
    x = tl.load(x_ptr + row * stride_x + cols, mask=ok, other=0.0).to(tl.float32)
    # correctly rounded sqrt and divide (once per row): rsqrt.approx would cost fp32 accuracy
    rstd = tl.div_rn(1.0, tl.sqrt_rn(tl.sum(x * x, 0) / WIDTH + eps))
    normed = to_dtype(x * rstd, out_ptr.dtype.element_ty, INTERPRETER)
    w = tl.load(w_ptr + cols, mask=ok, other=0.0)
    y = w.to(tl.float32) * normed.to(tl.float32)
    tl.store(
        out_ptr + row * WIDTH + cols, to_dtype(y, out_ptr.dtype.element_ty, INTERPRETER), mask=ok
    )


def rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm of `x` [..., H] with `weight` [H] -> x's shape and dtype."""
    if x.dim() < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must be [..., H] with H > 0, got {list(x.shape)}")
    width = x.shape[-1]
    if weight.shape != (width,):
        raise ValueError(
            f"weight must be [{width}] to match x {list(x.shape)}, got {list(weight.shape)}"
        )
    if x.dtype not in ATTENTION_DTYPES:
        raise ValueError(f"x dtype {x.dtype} not supported; use one of {ATTENTION_DTYPES}")
    if weight.dtype != x.dtype:
        raise ValueError(f"dtype mismatch: x {x.dtype}, weight {weight.dtype}")
    if width > MAX_WIDTH:
        raise ValueError(f"row width {width} > {MAX_WIDTH}: one row must fit one tile")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    check_device("x", x)
    check_device("weight", weight)
    rows = x.reshape(-1, width)
    if rows.stride(1) != 1:
        rows = rows.contiguous()
    out = torch.empty((rows.shape[0], width), dtype=x.dtype, device=x.device)
    if rows.shape[0]:
        _rmsnorm_kernel[(rows.shape[0],)](
            rows,
            weight.contiguous(),
            out,
            rows.stride(0),
            eps,
            WIDTH=width,
            BLOCK=triton.next_power_of_2(width),
            INTERPRETER=INTERPRET,
        )
    return out.view(x.shape)
