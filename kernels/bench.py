"""Kernel benchmark: correctness at real sizes, then speed vs PyTorch and the HBM roofline.

    python -m kernels.bench            # on a CUDA GPU: Qwen3-30B-A3B shapes, do_bench medians
    python -m kernels.bench --smoke    # on CPU: tiny shapes under TRITON_INTERPRET=1, wall-clock

Without a GPU and without --smoke it refuses (exit status 2). Smoke timings are interpreter
timings: they prove the script runs end to end, they say nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BenchSizes:
    """Shapes of one benchmark run (attention: Qwen3-30B-A3B has 32 q heads, 4 KV heads, dim 128)."""

    num_q_heads: int
    num_kv_heads: int
    head_dim: int
    block_size: int
    split_size: int
    decode_contexts: tuple[int, ...]
    decode_batches: tuple[int, ...]
    append_contexts: tuple[int, ...]
    append_batches: tuple[int, ...]
    append_q_lens: tuple[int, ...]
    moe_hidden: int
    moe_inter: int
    moe_experts: int
    moe_top_k: int
    moe_tokens: tuple[int, ...]
    linear_in: int
    linear_out: int
    linear_rows: tuple[int, ...]


REAL = BenchSizes(
    32, 4, 128, 16, 256,
    decode_contexts=(1024, 4096, 8192, 16384, 32768),
    decode_batches=(1, 8, 32, 64),
    append_contexts=(1024, 8192, 32768),
    append_batches=(1, 16),
    append_q_lens=(16, 64),
    moe_hidden=2048, moe_inter=768, moe_experts=128, moe_top_k=8,
    moe_tokens=(1, 2, 4, 8, 16),
    linear_in=2048, linear_out=4096, linear_rows=(1, 16, 64, 256),  # q_proj of Qwen3-30B-A3B
)  # fmt: skip
SMOKE = BenchSizes(
    4, 2, 32, 16, 64,
    decode_contexts=(200,),
    decode_batches=(1, 3),
    append_contexts=(100,),
    append_batches=(2,),
    append_q_lens=(7,),
    moe_hidden=64, moe_inter=32, moe_experts=8, moe_top_k=2,
    moe_tokens=(1, 4),
    linear_in=64, linear_out=96, linear_rows=(1, 5),
)  # fmt: skip


def median_ms(fn, smoke: bool) -> float:
    """do_bench median on a GPU; a 3-run wall-clock median under the interpreter."""
    if smoke:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - start) * 1e3)
        return statistics.median(runs)
    import triton.testing

    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def hbm_bytes_per_s(device: str, smoke: bool) -> float:
    """Bandwidth of a large device copy (read + write), measured in this run."""
    n = (1 << 20) if smoke else (1 << 30)
    src = torch.empty(n, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return 2 * n / (median_ms(lambda: dst.copy_(src), smoke) * 1e-3)


def paged_sessions(sizes: BenchSizes, batch: int, context: int, q_len: int, dtype, device):
    """Equal-length sessions on scattered pages, plus their dense K/V for the SDPA baseline."""
    # deferred: --smoke sets TRITON_INTERPRET before triton loads
    from kernels.reference.paged_cache import PagedBatch

    pages = -(-context // sizes.block_size)
    shape = (batch * pages, sizes.block_size, sizes.num_kv_heads, sizes.head_dim)
    k_cache = torch.randn(shape, dtype=dtype, device=device)
    v_cache = torch.randn(shape, dtype=dtype, device=device)
    tables = torch.randperm(batch * pages, device=device).view(batch, pages).to(torch.int32)
    q = torch.randn(batch * q_len, sizes.num_q_heads, sizes.head_dim, dtype=dtype, device=device)
    cu = torch.arange(0, batch * q_len + 1, q_len, dtype=torch.int32, device=device)
    kv_lens = torch.full((batch,), context, dtype=torch.int32, device=device)
    paged = PagedBatch(q, k_cache, v_cache, tables, cu, kv_lens)

    def dense(cache):  # [batch, Hkv, context, D]
        return cache[tables.long()].flatten(1, 2)[:, :context].transpose(1, 2).contiguous()

    return paged, dense(k_cache), dense(v_cache)


def attention_rows(sizes, device, smoke, bandwidth, dtype):
    """Decode and append timings: ours vs SDPA on pre-gathered dense KV (gather not timed)."""
    import torch.nn.functional as F

    from kernels.append_attention import append_attention  # deferred: after TRITON_INTERPRET
    from kernels.decode_attention import decode_attention

    scale = sizes.head_dim**-0.5
    cases = [("decode", c, b, 1) for c in sizes.decode_contexts for b in sizes.decode_batches]
    cases += [
        ("append", c, b, q)
        for c in sizes.append_contexts
        for b in sizes.append_batches
        for q in sizes.append_q_lens
    ]
    rows = []
    for kind, context, batch, q_len in cases:
        paged, k, v = paged_sessions(sizes, batch, context, q_len, dtype, device)
        if kind == "decode":
            pb = paged

            def ours(pb=pb):
                return decode_attention(
                    pb.q, pb.k_cache, pb.v_cache, pb.block_tables, pb.kv_lens,
                    scale=scale, split_size=sizes.split_size,
                )  # fmt: skip
        else:

            def ours(pb=paged):
                return append_attention(*pb.args(), scale=scale, split_size=sizes.split_size)

        qd = paged.q.view(batch, q_len, sizes.num_q_heads, -1).transpose(1, 2)
        pos = torch.arange(context - q_len, context, device=device)
        mask = torch.arange(context, device=device)[None, :] <= pos[:, None]

        def torch_ref(qd=qd, k=k, v=v, mask=mask):
            return F.scaled_dot_product_attention(
                qd, k, v, attn_mask=mask, scale=scale, enable_gqa=True
            )

        elem = paged.q.element_size()
        kv_bytes = 2 * batch * context * sizes.num_kv_heads * sizes.head_dim * elem
        moved = kv_bytes + 2 * paged.q.numel() * elem  # KV once, q in, out back
        rows.append(timing_row(f"{kind} ctx={context} b={batch} q={q_len}", ours, torch_ref,
                               moved, bandwidth, smoke))  # fmt: skip
        del paged, k, v
    return rows


def moe_weights(sizes: BenchSizes, tokens: int, dtype, device, seed: int = 0):
    gen = torch.Generator(device=device).manual_seed(seed)
    h, i, e = sizes.moe_hidden, sizes.moe_inter, sizes.moe_experts
    x = torch.randn(tokens, h, generator=gen, device=device).to(dtype)
    gate_up = (torch.randn(e, 2 * i, h, generator=gen, device=device) * h**-0.5).to(dtype)
    down = (torch.randn(e, h, i, generator=gen, device=device) * i**-0.5).to(dtype)
    logits = torch.randn(tokens, e, generator=gen, device=device)
    weights, ids = torch.topk(logits.softmax(-1), sizes.moe_top_k, dim=-1)
    return x, gate_up, down, ids, weights / weights.sum(-1, keepdim=True)


def moe_rows(sizes, device, smoke, bandwidth, dtype):
    """MoE gather+gemv vs the grouped PyTorch path; roofline = each hit expert's weights once."""
    # deferred: after TRITON_INTERPRET
    from kernels.moe_gather_gemv import moe_gather_gemv, moe_grouped

    rows = []
    for tokens in sizes.moe_tokens:
        args = moe_weights(sizes, tokens, dtype, device)
        hit = torch.unique(args[3]).numel()
        moved = hit * 3 * sizes.moe_hidden * sizes.moe_inter * args[0].element_size()
        rows.append(timing_row(f"moe tokens={tokens} experts_hit={hit}",
                               lambda a=args: moe_gather_gemv(*a), lambda a=args: moe_grouped(*a),
                               moved, bandwidth, smoke))  # fmt: skip
    return rows


def linear_rows(sizes, device, smoke, bandwidth, dtype):
    """Batch-invariant linear vs F.linear (cuBLAS); roofline = the weight read once."""
    import torch.nn.functional as F

    from kernels.matmul import linear  # deferred: after TRITON_INTERPRET

    weight = torch.randn(sizes.linear_out, sizes.linear_in, device=device).to(dtype)
    rows = []
    for m in sizes.linear_rows:
        x = torch.randn(m, sizes.linear_in, device=device).to(dtype)
        moved = (weight.numel() + x.numel() + m * sizes.linear_out) * x.element_size()
        rows.append(timing_row(f"linear {m}x{sizes.linear_in} -> {sizes.linear_out}",
                               lambda x=x: linear(x, weight), lambda x=x: F.linear(x, weight),
                               moved, bandwidth, smoke))  # fmt: skip
    return rows


def timing_row(name, ours, baseline, moved_bytes, bandwidth, smoke):
    ours_ms = median_ms(ours, smoke)
    base_ms = median_ms(baseline, smoke)
    achieved = moved_bytes / (ours_ms * 1e-3)
    return (name, ours_ms, base_ms, base_ms / ours_ms, achieved / 1e9, 100 * achieved / bandwidth)


def print_table(title: str, rows) -> None:
    print(f"\n{title}")
    header = f"{'case':<40} {'ours ms':>9} {'torch ms':>9} {'speedup':>8} {'GB/s':>8} {'% HBM':>6}"
    print(header)
    print("-" * len(header))
    for name, ours_ms, base_ms, speedup, gbs, pct in rows:
        print(
            f"{name:<40} {ours_ms:>9.4f} {base_ms:>9.4f} {speedup:>7.2f}x {gbs:>8.1f} {pct:>5.1f}%"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels.bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on CPU (interpreter)")
    args = parser.parse_args(argv)
    if args.smoke:
        # before any kernels module is imported: triton.jit picks the interpreter at decoration
        os.environ["TRITON_INTERPRET"] = "1"
        device, sizes, dtype = "cpu", SMOKE, torch.float16
    elif not torch.cuda.is_available():
        print(
            "kernels.bench measures GPU kernels and no CUDA device is visible.\n"
            "For an end-to-end run on CPU (interpreter, tiny shapes, timings meaningless):\n"
            "  python -m kernels.bench --smoke",
            file=sys.stderr,
        )
        return 2
    else:
        device, sizes, dtype = "cuda", REAL, torch.bfloat16
    from kernels.bench_correctness import check_real_sizes  # deferred: after TRITON_INTERPRET

    where = torch.cuda.get_device_name() if device == "cuda" else "CPU (TRITON_INTERPRET=1)"
    print(f"device: {where}; torch {torch.__version__}; dtype {dtype}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    if not check_real_sizes(sizes, device, dtype, moe_weights):
        print("correctness FAILED: timings skipped", file=sys.stderr)
        return 1
    bandwidth = hbm_bytes_per_s(device, args.smoke)
    print(f"\nmeasured copy bandwidth: {bandwidth / 1e9:.1f} GB/s (the roofline below)")
    print_table("attention (torch = SDPA on dense KV)",
                attention_rows(sizes, device, args.smoke, bandwidth, dtype))  # fmt: skip
    print_table("MoE experts (torch = grouped matmuls)",
                moe_rows(sizes, device, args.smoke, bandwidth, dtype))  # fmt: skip
    print_table("batch-invariant linear (torch = F.linear)",
                linear_rows(sizes, device, args.smoke, bandwidth, dtype))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
