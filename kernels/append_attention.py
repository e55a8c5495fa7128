"""Split-KV attention of appended query chunks (1..64 tokens per session) over the paged KV cache.

What: for every session in a batch, its new queries (packed in `q`, `cu_q_lens`) attend to
the session's paged K/V (block table) causally within the chunk; GQA; fp16/bf16/fp32 in,
fp32 softmax and accumulation. Two kernels: `_split_kernel` computes, per (session, KV
head, query tile, KV split), the split's partial softmax (max, sum, accumulator);
`_merge_kernel` merges a query's splits in split order.

Origin: flash-decoding (split-KV, Dao et al. 2023) and the two-stage decode kernels of
SGLang / LightLLM, with the online softmax of FlashAttention-2 and the fixed, left-aligned
splits of batch-invariant inference (Thinking Machines 2025): splits are
`[s*split_size, (s+1)*split_size)` from position 0, the tile shapes depend only on the
model and `split_size`, and a query merges exactly the splits `0..=pos // split_size`, so
its result depends only on its own session's KV — not on the batch, nor on how the
sequence was chunked into prefills and decodes. Key blocks past a query's position are
masked to exp2(-inf) = 0 with a running max that stays put, which leaves (m, l, acc)
bitwise unchanged; that is why chunk boundaries do not show.

Caveats: the launcher reads the lengths on the host to size the grid (one packed
device-to-host copy, or none if the caller passes `cu_q_lens`, `kv_lens`, `block_tables`
on the CPU; see kernels/split_plan.py), so it cannot be captured in a CUDA graph. The fp32 partial
buffers take sum_b(q_len_b * n_splits_b) * Hq * (head_dim + 2) * 4 bytes; raise
`split_size` for long contexts with big chunks. `p` is rounded to the V dtype before the
P@V dot, as FlashAttention does. Under TRITON_INTERPRET=1 dot operands are cast to fp32
(the interpreter's bf16 dot is wrong, triton-lang/triton#11584) and fp32 -> bf16 casts
round to nearest even explicitly (the interpreter truncates; kernels/rounding.py).

GPUs tested: none yet (correctness on CPU under TRITON_INTERPRET=1; `python -m kernels.bench`
measures on a GPU).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.paged_kv_checks import INTERPRET, check_paged_attention_inputs
from kernels.rounding import to_dtype
from kernels.split_plan import HostMetadata, SplitPlan, plan_splits

# Fixed per build, never per batch: changing them changes the bits, not the invariance.
QUERY_TILE_ROWS = 64  # (query, head-in-group) rows per program
KEY_TILE_MAX = 64  # keys per inner-loop step; the step used is gcd(split_size, 64)


@triton.jit
def _split_kernel(
    q_ptr,  # [total_q, Hq, D] new queries, unit stride on D
    k_cache_ptr,  # [num_blocks, BLOCK_SIZE, NUM_KV_HEADS, HEAD_DIM] contiguous keys
    v_cache_ptr,  # same layout, values
    block_tables_ptr,  # int32 [batch, max_blocks]: session's page ids, -1 padded
    cu_q_lens_ptr,  # int32 [batch + 1]: query rows of session b are cu[b]:cu[b+1] (unused if DECODE)
    kv_lens_ptr,  # int32 [batch]: KV length including this step's tokens
    part_offsets_ptr,  # int32 [batch]: first partial row of session b (rows: query-major, split-minor)
    work_session_ptr,  # int32 [n_work]: session of each (session, split) work item
    work_split_ptr,  # int32 [n_work]: split of each work item
    m_ptr,  # fp32 [part_rows, Hq] out: running max of the split, log2 domain
    l_ptr,  # fp32 [part_rows, Hq] out: sum of exp2(score - max) over the split
    acc_ptr,  # fp32 [part_rows, Hq, HEAD_DIM] out: unnormalised sum of p * V over the split
    qk_scale,  # softmax scale * log2(e), so exp2 can be used
    stride_qt,  # q stride between query rows
    stride_qh,  # q stride between heads
    stride_bt,  # block_tables stride between sessions
    num_m_tiles,  # query tiles per (session, KV head) in this grid
    NUM_KV_HEADS: tl.constexpr,  # KV heads in the cache
    GROUP: tl.constexpr,  # query heads per KV head (GQA)
    HEAD_DIM: tl.constexpr,  # head dimension
    BLOCK_D: tl.constexpr,  # HEAD_DIM rounded up to a power of two >= 16
    BLOCK_SIZE: tl.constexpr,  # cache page size in tokens
    SPLIT_SIZE: tl.constexpr,  # KV split length, a multiple of BLOCK_N
    BLOCK_M: tl.constexpr,  # query rows per program: row r is query r // GROUP, head r % GROUP
    BLOCK_N: tl.constexpr,  # keys per inner step
    DECODE: tl.constexpr,  # one query per session at row b, position kv_len - 1
    INTERPRETER: tl.constexpr,  # under TRITON_INTERPRET: fp32 dot operands, RNE bf16 casts
    DOT_PRECISION: tl.constexpr,  # "ieee" for fp32 inputs so tf32 does not creep in
):
    pid = tl.program_id(0)
    kv_head = tl.program_id(1)
    work = pid // num_m_tiles
    m_tile = pid % num_m_tiles
    b = tl.load(work_session_ptr + work)
    split = tl.load(work_split_ptr + work)
    kv_len = tl.load(kv_lens_ptr + b)
    if DECODE:
        q_start = b
        q_len = 1
    else:
        q_start = tl.load(cu_q_lens_ptr + b)
        q_len = tl.load(cu_q_lens_ptr + b + 1) - q_start
    n_rows = q_len * GROUP
    row0 = m_tile * BLOCK_M
    split_start = split * SPLIT_SIZE
    # Position of the tile's last query: keys past it are masked for every row of the tile.
    tile_last_pos = kv_len - q_len + (tl.minimum(row0 + BLOCK_M, n_rows) - 1) // GROUP
    if (row0 < n_rows) & (split_start <= tile_last_pos):
        n_splits = tl.cdiv(kv_len, SPLIT_SIZE)
        rows = row0 + tl.arange(0, BLOCK_M)
        row_ok = rows < n_rows
        j = rows // GROUP
        head = kv_head * GROUP + rows % GROUP
        q_pos = kv_len - q_len + j
        offs_d = tl.arange(0, BLOCK_D)
        d_ok = offs_d < HEAD_DIM
        q = tl.load(
            q_ptr
            + (q_start + j)[:, None] * stride_qt
            + head[:, None] * stride_qh
            + offs_d[None, :],
            mask=row_ok[:, None] & d_ok[None, :],
            other=0.0,
        )
        if INTERPRETER:
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        stop = tl.minimum(split_start + SPLIT_SIZE, tile_last_pos + 1)
        for start in range(split_start, stop, BLOCK_N):
            offs_n = start + tl.arange(0, BLOCK_N)
            n_ok = offs_n < kv_len
            page = tl.load(
                block_tables_ptr + b * stride_bt + offs_n // BLOCK_SIZE, mask=n_ok, other=0
            )
            kv_off = (page.to(tl.int64) * BLOCK_SIZE + offs_n % BLOCK_SIZE) * (
                NUM_KV_HEADS * HEAD_DIM
            )
            kv_off += kv_head * HEAD_DIM
            kv_mask = n_ok[:, None] & d_ok[None, :]
            # masked loads read 0, never uninitialised cache memory: 0 * NaN would poison acc
            k = tl.load(k_cache_ptr + kv_off[:, None] + offs_d[None, :], mask=kv_mask, other=0.0)
            v = tl.load(v_cache_ptr + kv_off[:, None] + offs_d[None, :], mask=kv_mask, other=0.0)
            if INTERPRETER:
                k = k.to(tl.float32)
            qk = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * qk_scale
            if DECODE:
                visible = n_ok[None, :]
            else:
                visible = offs_n[None, :] <= q_pos[:, None]
            qk = tl.where(visible, qk, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(qk, 1))
            # a row with no visible key yet keeps m = -inf; subtract 0 instead to avoid NaN
            m_sub = tl.where(m_new == float("-inf"), 0.0, m_new)
            alpha = tl.exp2(m_i - m_sub)
            p = tl.exp2(qk - m_sub[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            p = to_dtype(p, v.dtype, INTERPRETER)
            if INTERPRETER:
                p = p.to(tl.float32)
                v = v.to(tl.float32)
            acc = acc * alpha[:, None] + tl.dot(p, v, input_precision=DOT_PRECISION)
            m_i = m_new
        part_row = tl.load(part_offsets_ptr + b).to(tl.int64) + j.to(tl.int64) * n_splits + split
        ml_off = part_row * (NUM_KV_HEADS * GROUP) + head
        tl.store(m_ptr + ml_off, m_i, mask=row_ok)
        tl.store(l_ptr + ml_off, l_i, mask=row_ok)
        tl.store(
            acc_ptr + ml_off[:, None] * HEAD_DIM + offs_d[None, :],
            acc,
            mask=row_ok[:, None] & d_ok[None, :],
        )


@triton.jit
def _merge_kernel(
    m_ptr,  # fp32 [part_rows, NUM_HEADS] split maxima from _split_kernel
    l_ptr,  # fp32 [part_rows, NUM_HEADS] split sums
    acc_ptr,  # fp32 [part_rows, NUM_HEADS, HEAD_DIM] split accumulators
    q_pos_ptr,  # int32 [total_q]: position of each query in its session
    q_part_row_ptr,  # int32 [total_q]: partial row of the query's split 0
    out_ptr,  # [total_q, NUM_HEADS, HEAD_DIM] contiguous output, q's dtype
    NUM_HEADS: tl.constexpr,  # query heads
    HEAD_DIM: tl.constexpr,  # head dimension
    BLOCK_D: tl.constexpr,  # HEAD_DIM rounded up to a power of two >= 16
    SPLIT_SIZE: tl.constexpr,  # KV split length
    INTERPRETER: tl.constexpr,  # under TRITON_INTERPRET: RNE bf16 casts
):
    t = tl.program_id(0)
    h = tl.program_id(1)
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d < HEAD_DIM
    row = tl.load(q_part_row_ptr + t).to(tl.int64) * NUM_HEADS + h
    # splits 0..=pos // SPLIT_SIZE each hold at least one visible key, so every max is finite
    n_splits = tl.load(q_pos_ptr + t) // SPLIT_SIZE + 1
    m = tl.load(m_ptr + row)
    l_sum = tl.load(l_ptr + row)
    acc = tl.load(acc_ptr + row * HEAD_DIM + offs_d, mask=d_ok, other=0.0)
    for s in range(1, n_splits):
        r = row + s * NUM_HEADS
        m_s = tl.load(m_ptr + r)
        m_new = tl.maximum(m, m_s)
        keep = tl.exp2(m - m_new)
        take = tl.exp2(m_s - m_new)
        l_sum = l_sum * keep + tl.load(l_ptr + r) * take
        acc = acc * keep + tl.load(acc_ptr + r * HEAD_DIM + offs_d, mask=d_ok, other=0.0) * take
        m = m_new
    out = acc / l_sum
    tl.store(
        out_ptr + (t * NUM_HEADS + h) * HEAD_DIM + offs_d,
        to_dtype(out, out_ptr.dtype.element_ty, INTERPRETER),
        mask=d_ok,
    )


def run_split_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    plan: SplitPlan,
    *,
    scale: float,
    split_size: int,
    decode: bool,
) -> torch.Tensor:
    """Launch split + merge on validated inputs; shared by append and decode launchers."""
    total_q, num_q_heads, head_dim = q.shape
    _, block_size, num_kv_heads, _ = k_cache.shape
    group = num_q_heads // num_kv_heads
    out = torch.empty((total_q, num_q_heads, head_dim), dtype=q.dtype, device=q.device)
    if total_q == 0:
        return out
    m = torch.empty((plan.part_rows, num_q_heads), dtype=torch.float32, device=q.device)
    l_sum = torch.empty_like(m)
    acc = torch.empty((plan.part_rows, num_q_heads, head_dim), dtype=torch.float32, device=q.device)

    block_d = max(16, triton.next_power_of_2(head_dim))
    block_n = math.gcd(split_size, KEY_TILE_MAX)
    num_m_tiles = triton.cdiv(plan.max_q_len * group, QUERY_TILE_ROWS)
    grid = (plan.n_work * num_m_tiles, num_kv_heads)
    _split_kernel[grid](
        q,
        k_cache,
        v_cache,
        plan.block_tables,
        plan.cu_q_lens,
        plan.kv_lens,
        plan.part_offsets,
        plan.work_session,
        plan.work_split,
        m,
        l_sum,
        acc,
        scale * math.log2(math.e),
        q.stride(0),
        q.stride(1),
        plan.block_tables.stride(0),
        num_m_tiles,
        NUM_KV_HEADS=num_kv_heads,
        GROUP=group,
        HEAD_DIM=head_dim,
        BLOCK_D=block_d,
        BLOCK_SIZE=block_size,
        SPLIT_SIZE=split_size,
        BLOCK_M=QUERY_TILE_ROWS,
        BLOCK_N=block_n,
        DECODE=decode,
        INTERPRETER=INTERPRET,
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        num_warps=4,
        num_stages=2,  # two fp32 64x128 K/V stages still fit shared memory on A100/H100
    )
    _merge_kernel[(total_q, num_q_heads)](
        m,
        l_sum,
        acc,
        plan.q_pos,
        plan.q_part_row,
        out,
        NUM_HEADS=num_q_heads,
        HEAD_DIM=head_dim,
        BLOCK_D=block_d,
        SPLIT_SIZE=split_size,
        INTERPRETER=INTERPRET,
    )
    return out


def append_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    cu_q_lens: torch.Tensor,
    kv_lens: torch.Tensor,
    *,
    scale: float,
    split_size: int = 256,
) -> torch.Tensor:
    """Attention of packed new queries over the paged cache -> `[total_q, Hq, D]` (docs/kv_layout.md)."""
    host = check_paged_attention_inputs(
        q, k_cache, v_cache, block_tables, cu_q_lens, kv_lens, split_size, scale
    )
    given = HostMetadata(cu_q_lens, kv_lens, block_tables)
    plan = plan_splits(host, given, split_size, q.device)
    return run_split_attention(
        q, k_cache, v_cache, plan, scale=scale, split_size=split_size, decode=False
    )
