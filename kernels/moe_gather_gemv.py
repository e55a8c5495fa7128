"""Routed-expert MLP (Qwen3-MoE: SwiGLU experts, top-k weighted sum) for a few tokens, and its dispatcher.

What: `moe_gather_gemv` handles <= 16 tokens in three launches: per (token, routed
expert) pair, gather that expert's rows of `gate_up_proj`, gemv, SwiGLU; per pair again,
gather `down_proj`, gemv; per token, add the router-weighted expert outputs in slot order.
Everything accumulates in fp32 registers (the two small fp32 buffers between launches
hold T*K*(I+H) floats); no atomics, no cross-token reduction, so a token's output is
bitwise independent of the other tokens in the call.
`moe_grouped` (PyTorch) sorts (token, slot) pairs by expert and runs one matmul pair per
hit expert; it wins once many tokens share experts. `moe_experts` picks by token count.

Origin: the decode-time MoE gemv of llama.cpp / vLLM's fused_moe for tiny batches; the
weight layout is transformers' Qwen3MoeExperts (gate rows, then up rows, in one tensor).

Caveats: reads each expert's weights once per (token, expert) pair, so tokens sharing an
expert re-read it (from L2 on a GPU); the grouped path is not batch-invariant (its
matmuls see token counts), so batch-invariant serving must keep batches <= 16 tokens per
MoE call or use the gemv path for all. One host sync per call (expert-id bounds check).
Fixed tile sizes, no autotuning: a token's result must not depend on the token count.

GPUs tested: none yet (CPU interpreter only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from kernels.paged_kv_checks import ATTENTION_DTYPES, INTERPRET, check_device
from kernels.rounding import to_dtype

GEMV_MAX_TOKENS = 16
# Small row tiles so even one token (8 experts) spreads over a few hundred programs.
GATE_ROWS, GATE_COLS = 16, 128  # gate/up rows x hidden columns per step
DOWN_ROWS, DOWN_COLS = 32, 128  # output rows x intermediate columns per step
COMBINE_COLS = 256  # output columns per combine program


@triton.jit
def _gate_up_kernel(
    x_ptr,  # [T, H] tokens, contiguous
    gate_up_ptr,  # [E, 2I, H] contiguous: rows 0..I-1 gate, I..2I-1 up
    ids_ptr,  # int [T, K] routed expert of each (token, slot), contiguous
    act_ptr,  # fp32 [T*K, I] out: silu(gate) * up per (token, slot)
    HIDDEN: tl.constexpr,  # H
    INTER: tl.constexpr,  # I
    TOP_K: tl.constexpr,  # K
    BLOCK_R: tl.constexpr,  # intermediate rows per program
    BLOCK_C: tl.constexpr,  # hidden columns per step
):
    pair = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < INTER
    token = pair // TOP_K
    expert = tl.load(ids_ptr + pair).to(tl.int64)
    w_base = gate_up_ptr + expert * (2 * INTER * HIDDEN)
    acc_gate = tl.zeros([BLOCK_R], tl.float32)
    acc_up = tl.zeros([BLOCK_R], tl.float32)
    for c0 in range(0, HIDDEN, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        col_ok = cols < HIDDEN
        x = tl.load(x_ptr + token * HIDDEN + cols, mask=col_ok, other=0.0).to(tl.float32)
        w_mask = row_ok[:, None] & col_ok[None, :]
        w_off = rows[:, None] * HIDDEN + cols[None, :]
        w_gate = tl.load(w_base + w_off, mask=w_mask, other=0.0).to(tl.float32)
        w_up = tl.load(w_base + INTER * HIDDEN + w_off, mask=w_mask, other=0.0).to(tl.float32)
        acc_gate += tl.sum(w_gate * x[None, :], 1)
        acc_up += tl.sum(w_up * x[None, :], 1)
    act = acc_gate / (1.0 + tl.exp(-acc_gate)) * acc_up
    tl.store(act_ptr + pair * INTER + rows, act, mask=row_ok)


@triton.jit
def _down_kernel(
    act_ptr,  # fp32 [T*K, I] from _gate_up_kernel
    down_ptr,  # [E, H, I] contiguous
    ids_ptr,  # int [T, K] routed experts, contiguous
    expert_out_ptr,  # fp32 [T*K, H] out: the expert's output for each (token, slot)
    HIDDEN: tl.constexpr,  # H
    INTER: tl.constexpr,  # I
    BLOCK_R: tl.constexpr,  # output rows per program
    BLOCK_C: tl.constexpr,  # intermediate columns per step
):
    pair = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < HIDDEN
    expert = tl.load(ids_ptr + pair).to(tl.int64)
    w_base = down_ptr + expert * (HIDDEN * INTER)
    acc = tl.zeros([BLOCK_R], tl.float32)
    for c0 in range(0, INTER, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        col_ok = cols < INTER
        act = tl.load(act_ptr + pair * INTER + cols, mask=col_ok, other=0.0)
        w = tl.load(
            w_base + rows[:, None] * INTER + cols[None, :],
            mask=row_ok[:, None] & col_ok[None, :],
            other=0.0,
        ).to(tl.float32)
        acc += tl.sum(w * act[None, :], 1)
    tl.store(expert_out_ptr + pair * HIDDEN + rows, acc, mask=row_ok)


@triton.jit
def _combine_kernel(
    expert_out_ptr,  # fp32 [T*K, H] from _down_kernel
    weights_ptr,  # [T, K] router weights, contiguous
    out_ptr,  # [T, H] out, the tokens' dtype
    HIDDEN: tl.constexpr,  # H
    TOP_K: tl.constexpr,  # K
    BLOCK: tl.constexpr,  # output columns per program
    INTERPRETER: tl.constexpr,  # under TRITON_INTERPRET: RNE bf16 casts
):
    token = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    ok = cols < HIDDEN
    out = tl.zeros([BLOCK], tl.float32)
    for slot in range(TOP_K):  # fixed slot order: the combine is deterministic
        pair = token * TOP_K + slot
        weight = tl.load(weights_ptr + pair).to(tl.float32)
        out += weight * tl.load(expert_out_ptr + pair * HIDDEN + cols, mask=ok, other=0.0)
    tl.store(
        out_ptr + token * HIDDEN + cols,
        to_dtype(out, out_ptr.dtype.element_ty, INTERPRETER),
        mask=ok,
    )


def check_moe_inputs(x, gate_up_proj, down_proj, top_k_index, top_k_weights) -> None:
    """Raise ValueError naming the first thing wrong with the MoE inputs."""
    if x.dim() != 2:
        raise ValueError(f"x must be [tokens, hidden], got {list(x.shape)}")
    if x.dtype not in ATTENTION_DTYPES:
        raise ValueError(f"x dtype {x.dtype} not supported; use one of {ATTENTION_DTYPES}")
    if gate_up_proj.dim() != 3 or down_proj.dim() != 3:
        raise ValueError(
            f"gate_up_proj must be [E, 2I, H] and down_proj [E, H, I], got "
            f"{list(gate_up_proj.shape)} and {list(down_proj.shape)}"
        )
    experts, two_inter, hidden = gate_up_proj.shape
    if (
        hidden != x.shape[1]
        or two_inter % 2
        or tuple(down_proj.shape) != (experts, hidden, two_inter // 2)
    ):
        raise ValueError(
            f"shapes disagree: x {list(x.shape)}, gate_up_proj {list(gate_up_proj.shape)} "
            f"(want [E, 2I, {x.shape[1]}]), down_proj {list(down_proj.shape)} (want [E, H, I])"
        )
    if gate_up_proj.dtype != x.dtype or down_proj.dtype != x.dtype:
        raise ValueError(
            f"dtype mismatch: x {x.dtype}, gate_up_proj {gate_up_proj.dtype}, down_proj {down_proj.dtype}"
        )
    if top_k_index.dim() != 2 or top_k_index.shape[0] != x.shape[0]:
        raise ValueError(f"top_k_index must be [{x.shape[0]}, K], got {list(top_k_index.shape)}")
    if top_k_index.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"top_k_index must be int32 or int64, got {top_k_index.dtype}")
    if top_k_weights.shape != top_k_index.shape or not top_k_weights.is_floating_point():
        raise ValueError(
            f"top_k_weights must be floating [{', '.join(map(str, top_k_index.shape))}], "
            f"got {top_k_weights.dtype} {list(top_k_weights.shape)}"
        )
    if top_k_index.numel():
        lo, hi = int(top_k_index.min()), int(top_k_index.max())
        if lo < 0 or hi >= experts:
            raise ValueError(
                f"top_k_index has expert ids in [{lo}, {hi}], outside 0..{experts - 1}"
            )


def moe_gather_gemv(x, gate_up_proj, down_proj, top_k_index, top_k_weights) -> torch.Tensor:
    """Triton gather+gemv MoE for `x` [T <= 16, H] -> [T, H] in x's dtype."""
    check_moe_inputs(x, gate_up_proj, down_proj, top_k_index, top_k_weights)
    if x.shape[0] > GEMV_MAX_TOKENS:
        raise ValueError(
            f"moe_gather_gemv takes at most {GEMV_MAX_TOKENS} tokens, got {x.shape[0]}"
        )
    for name, t in (
        ("x", x),
        ("gate_up_proj", gate_up_proj),
        ("down_proj", down_proj),
        ("top_k_index", top_k_index),
        ("top_k_weights", top_k_weights),
    ):
        check_device(name, t)
    tokens, hidden = x.shape
    inter = down_proj.shape[2]
    top_k = top_k_index.shape[1]
    x, gate_up_proj, down_proj = x.contiguous(), gate_up_proj.contiguous(), down_proj.contiguous()
    ids, weights = top_k_index.contiguous(), top_k_weights.contiguous()
    out = torch.empty_like(x)
    if tokens == 0:
        return out
    act = torch.empty((tokens * top_k, inter), dtype=torch.float32, device=x.device)
    _gate_up_kernel[(tokens * top_k, triton.cdiv(inter, GATE_ROWS))](
        x,
        gate_up_proj,
        ids,
        act,
        HIDDEN=hidden,
        INTER=inter,
        TOP_K=top_k,
        BLOCK_R=GATE_ROWS,
        BLOCK_C=GATE_COLS,
    )
    expert_out = torch.empty((tokens * top_k, hidden), dtype=torch.float32, device=x.device)
    _down_kernel[(tokens * top_k, triton.cdiv(hidden, DOWN_ROWS))](
        act,
        down_proj,
        ids,
        expert_out,
        HIDDEN=hidden,
        INTER=inter,
        BLOCK_R=DOWN_ROWS,
        BLOCK_C=DOWN_COLS,
    )
    _combine_kernel[(tokens, triton.cdiv(hidden, COMBINE_COLS))](
        expert_out,
        weights,
        out,
        HIDDEN=hidden,
        TOP_K=top_k,
        BLOCK=COMBINE_COLS,
        INTERPRETER=INTERPRET,
    )
    return out


def moe_grouped(x, gate_up_proj, down_proj, top_k_index, top_k_weights) -> torch.Tensor:
    """PyTorch grouped path: (token, slot) pairs sorted by expert, one matmul pair per hit expert."""
    check_moe_inputs(x, gate_up_proj, down_proj, top_k_index, top_k_weights)
    tokens, top_k = top_k_index.shape
    flat = top_k_index.flatten()
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=gate_up_proj.shape[0]).tolist()
    y = torch.empty((tokens * top_k, x.shape[1]), dtype=x.dtype, device=x.device)
    start = 0
    for expert, count in enumerate(counts):
        if count == 0:
            continue
        pairs = order[start : start + count]
        start += count
        gate, up = F.linear(x[pairs // top_k], gate_up_proj[expert]).chunk(2, dim=-1)
        y[pairs] = F.linear(F.silu(gate) * up, down_proj[expert])
    # combine in slot order in fp32, never index_add: deterministic
    weighted = y.view(tokens, top_k, -1).float() * top_k_weights.float()[..., None]
    return weighted.sum(1).to(x.dtype)


def moe_experts(x, gate_up_proj, down_proj, top_k_index, top_k_weights) -> torch.Tensor:
    """Routed experts of `x` [T, H]: gather+gemv for T <= 16 tokens, grouped matmuls above."""
    if x.dim() == 2 and x.shape[0] <= GEMV_MAX_TOKENS:
        return moe_gather_gemv(x, gate_up_proj, down_proj, top_k_index, top_k_weights)
    return moe_grouped(x, gate_up_proj, down_proj, top_k_index, top_k_weights)
