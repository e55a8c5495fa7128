"""Batch-invariant linear layer: `x @ weight.T (+ bias)` with one fixed tile shape, no split-K.

What: each program computes a BLOCK_M x BLOCK_N output tile, walking K in BLOCK_K steps in
order with an fp32 accumulator. The tile shape is a module constant, not chosen from M,
so a row's result does not depend on how many rows are in the call: the reduction order
over K is the same whether the row came alone (a decode) or inside a 64-token chunk.
cuBLAS instead picks kernels (and split-K) by problem size, which is why `torch.matmul`
is not batch-invariant.

Origin: the Triton matmul tutorial, with the fixed-configuration rule of Thinking
Machines' batch-invariant ops (no autotuning, no split-K, no M-dependent tiles).

Caveats: not tuned; small M wastes tensor-core rows (decode is weight-bandwidth bound, so
this costs compute, not bytes). Under TRITON_INTERPRET=1 dot operands are cast to fp32
(triton-lang/triton#11584).
GPUs tested: none yet (CPU interpreter; compiled for sm_90 ahead of time by the tests).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.paged_kv_checks import ATTENTION_DTYPES, INTERPRET, check_device
from kernels.rounding import to_dtype

BLOCK_M, BLOCK_N, BLOCK_K = 64, 64, 64


@triton.jit
def _linear_kernel(
    x_ptr,  # [M, K] activations, unit stride along K
    w_ptr,  # [N, K] weight (nn.Linear layout), unit stride along K
    bias_ptr,  # [N] bias, or x_ptr when HAS_BIAS is False (never read)
    out_ptr,  # [M, N] contiguous output, x's dtype
    M,  # rows of x
    N,  # output features
    K,  # input features
    stride_xm,  # x stride between rows
    stride_wn,  # weight stride between output features
    HAS_BIAS: tl.constexpr,  # add bias after the fp32 reduction
    BLOCK_M: tl.constexpr,  # rows per tile
    BLOCK_N: tl.constexpr,  # output features per tile
    BLOCK_K: tl.constexpr,  # reduction step
    INTERPRETER: tl.constexpr,  # under TRITON_INTERPRET: fp32 dot operands, RNE bf16 casts
    DOT_PRECISION: tl.constexpr,  # "ieee" for fp32 inputs so tf32 does not creep in
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < M
    col_ok = cols < N
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        x = tl.load(
            x_ptr + rows[:, None].to(tl.int64) * stride_xm + ks[None, :],
            mask=row_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        w = tl.load(
            w_ptr + cols[None, :].to(tl.int64) * stride_wn + ks[:, None],
            mask=col_ok[None, :] & k_ok[:, None],
            other=0.0,
        )  # [BLOCK_K, BLOCK_N]: weight rows read transposed
        if INTERPRETER:
            x = x.to(tl.float32)
            w = w.to(tl.float32)
        acc += tl.dot(x, w, input_precision=DOT_PRECISION)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    out = out_ptr + rows[:, None].to(tl.int64) * N + cols[None, :]
    tl.store(
        out,
        to_dtype(acc, out_ptr.dtype.element_ty, INTERPRETER),
        mask=row_ok[:, None] & col_ok[None, :],
    )


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`x` [..., K] @ `weight` [N, K].T (+ `bias` [N]) -> [..., N] in x's dtype, batch-invariant."""
    if x.dim() < 1 or weight.dim() != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"x must be [..., K] and weight [N, K] with the same K, got {list(x.shape)} "
            f"and {list(weight.shape)}"
        )
    if x.dtype not in ATTENTION_DTYPES:
        raise ValueError(f"x dtype {x.dtype} not supported; use one of {ATTENTION_DTYPES}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        bias_dtype = None if bias is None else bias.dtype
        raise ValueError(f"dtype mismatch: x {x.dtype}, weight {weight.dtype}, bias {bias_dtype}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be [{weight.shape[0]}], got {list(bias.shape)}")
    for name, t in (("x", x), ("weight", weight)) + ((("bias", bias),) if bias is not None else ()):
        check_device(name, t)
    rows = x.reshape(-1, x.shape[-1])
    if rows.stride(-1) != 1:
        rows = rows.contiguous()
    if weight.stride(1) != 1:
        weight = weight.contiguous()
    m, k = rows.shape
    n = weight.shape[0]
    out = torch.empty((m, n), dtype=x.dtype, device=x.device)
    if m and n:
        _linear_kernel[(triton.cdiv(m, BLOCK_M), triton.cdiv(n, BLOCK_N))](
            rows,
            weight,
            rows if bias is None else bias.contiguous(),
            out,
            m,
            n,
            k,
            rows.stride(0),
            weight.stride(0),
            HAS_BIAS=bias is not None,
            BLOCK_M=BLOCK_M,
            BLOCK_N=BLOCK_N,
            BLOCK_K=BLOCK_K,
            INTERPRETER=INTERPRET,
            DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
        )
    return out.view(*x.shape[:-1], n)
