"""Launcher-side validation of paged-KV attention inputs (docs/kv_layout.md), with clear errors."""

from __future__ import annotations

import math
import os

import torch

from kernels.split_plan import HostMetadata, read_metadata

# Decided once, like triton.jit itself: kernels are built as interpreted functions when
# TRITON_INTERPRET=1 is set before `kernels` is imported.
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

ATTENTION_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
MAX_HEAD_DIM = 256


def check_device(name: str, t: torch.Tensor) -> None:
    """Triton needs CUDA tensors, or CPU tensors under the interpreter."""
    if INTERPRET and t.device.type != "cpu":
        raise ValueError(
            f"{name} is on {t.device}, but TRITON_INTERPRET=1 runs kernels on CPU tensors"
        )
    if not INTERPRET and t.device.type != "cuda":
        raise ValueError(
            f"{name} is on {t.device}: Triton kernels need CUDA tensors "
            "(or set TRITON_INTERPRET=1 before importing kernels to run them on CPU)"
        )


def _check_int32_vector(name: str, t: torch.Tensor, length: int) -> None:
    if t.dtype != torch.int32:
        raise ValueError(f"{name} must be int32, got {t.dtype}")
    if t.dim() != 1 or t.shape[0] != length:
        raise ValueError(f"{name} must have shape [{length}], got {list(t.shape)}")
    if length > 1 and t.stride(0) != 1:
        raise ValueError(f"{name} must be contiguous, got stride {t.stride(0)}")


def check_paged_attention_inputs(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    cu_q_lens: torch.Tensor,
    kv_lens: torch.Tensor,
    split_size: int,
    scale: float,
) -> HostMetadata:
    """Raise ValueError naming the first thing wrong; return host copies of the metadata.

    `block_tables`, `cu_q_lens` and `kv_lens` may live on q's device (one packed
    device-to-host copy, a sync) or on the CPU (no sync; the scheduler has them there).
    The launchers need the host values anyway to size the grid and the split buffers.
    """
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if q.dim() != 3:
        raise ValueError(f"q must be [total_q, num_q_heads, head_dim], got shape {list(q.shape)}")
    if k_cache.dim() != 4:
        raise ValueError(
            "k_cache must be [num_blocks, block_size, num_kv_heads, head_dim], "
            f"got shape {list(k_cache.shape)}"
        )
    if v_cache.shape != k_cache.shape:
        raise ValueError(
            f"v_cache shape {list(v_cache.shape)} != k_cache shape {list(k_cache.shape)}"
        )
    if q.dtype not in ATTENTION_DTYPES:
        raise ValueError(f"q dtype {q.dtype} not supported; use one of {ATTENTION_DTYPES}")
    if k_cache.dtype != q.dtype or v_cache.dtype != q.dtype:
        raise ValueError(
            f"dtype mismatch: q {q.dtype}, k_cache {k_cache.dtype}, v_cache {v_cache.dtype}"
        )
    num_blocks, block_size, num_kv_heads, head_dim = k_cache.shape
    total_q, num_q_heads, q_head_dim = q.shape
    if q_head_dim != head_dim:
        raise ValueError(f"q head_dim {q_head_dim} != cache head_dim {head_dim}")
    if not 1 <= head_dim <= MAX_HEAD_DIM:
        raise ValueError(f"head_dim {head_dim} outside 1..{MAX_HEAD_DIM}")
    if num_q_heads % num_kv_heads != 0:
        raise ValueError(
            f"num_q_heads {num_q_heads} is not a multiple of num_kv_heads {num_kv_heads} (GQA)"
        )
    if q.stride(2) != 1:
        raise ValueError(f"q must have unit stride on head_dim, got strides {q.stride()}")
    if not k_cache.is_contiguous() or not v_cache.is_contiguous():
        raise ValueError("k_cache and v_cache must be contiguous (docs/kv_layout.md)")
    if split_size <= 0 or split_size % block_size != 0 or split_size % 16 != 0:
        raise ValueError(
            f"split_size {split_size} must be a positive multiple of block_size {block_size} and of 16"
        )
    if block_tables.dtype != torch.int32 or block_tables.dim() != 2:
        raise ValueError(
            f"block_tables must be int32 [batch, max_blocks], got {block_tables.dtype} "
            f"{list(block_tables.shape)}"
        )
    if block_tables.stride(1) != 1:
        raise ValueError(
            f"block_tables rows must have unit stride, got strides {block_tables.stride()}"
        )
    batch = block_tables.shape[0]
    _check_int32_vector("cu_q_lens", cu_q_lens, batch + 1)
    _check_int32_vector("kv_lens", kv_lens, batch)
    for name, t in (("q", q), ("k_cache", k_cache), ("v_cache", v_cache)):
        check_device(name, t)
    if k_cache.device != q.device or v_cache.device != q.device:
        raise ValueError(
            f"q, k_cache, v_cache on different devices: {q.device}, {k_cache.device}, {v_cache.device}"
        )
    for name, t in (("block_tables", block_tables), ("cu_q_lens", cu_q_lens), ("kv_lens", kv_lens)):
        if t.device != q.device and t.device.type != "cpu":
            raise ValueError(
                f"{name} is on {t.device}: put it on q's device ({q.device}) or the CPU"
            )

    host = read_metadata(cu_q_lens, kv_lens, block_tables)
    cu, kv, tables = host.cu_q_lens, host.kv_lens, host.block_tables
    q_lens = cu[1:] - cu[:-1]
    if batch and (cu[0] != 0 or cu[-1] != total_q):
        raise ValueError(
            f"cu_q_lens must start at 0 and end at total_q={total_q}, got {cu.tolist()}"
        )
    if (q_lens < 0).any():
        raise ValueError(f"cu_q_lens must be non-decreasing, got {cu.tolist()}")
    bad = torch.nonzero(q_lens > kv).flatten()
    if bad.numel():
        b = int(bad[0])
        raise ValueError(
            f"session {b}: q_len {int(q_lens[b])} > kv_len {int(kv[b])} "
            "(kv_lens include this step's tokens)"
        )
    needed = (kv + block_size - 1) // block_size
    if batch and int(needed.max()) > block_tables.shape[1]:
        b = int(torch.argmax(needed))
        raise ValueError(
            f"session {b}: kv_len {int(kv[b])} needs {int(needed[b])} blocks but block_tables "
            f"has {block_tables.shape[1]} columns"
        )
    used = torch.arange(tables.shape[1])[None, :] < needed[:, None]
    out_of_range = used & ((tables < 0) | (tables >= num_blocks))
    if out_of_range.any():
        b, i = (int(x) for x in torch.nonzero(out_of_range)[0])
        raise ValueError(
            f"block_tables[{b}, {i}] = {int(tables[b, i])} is not a block of the cache "
            f"(0..{num_blocks - 1}), but session {b} with kv_len {int(kv[b])} uses it"
        )
    return host
