"""The correctness stage of `python -m kernels.bench`: the test-suite properties at real sizes."""

from __future__ import annotations

import torch

from kernels.append_attention import append_attention
from kernels.decode_attention import decode_attention
from kernels.matmul import linear
from kernels.moe_gather_gemv import moe_gather_gemv
from kernels.reference.attention import append_attention_ref
from kernels.reference.moe import moe_experts_ref
from kernels.reference.paged_cache import random_paged_batch
from kernels.reference.rmsnorm import rmsnorm_ref
from kernels.rmsnorm import rmsnorm


def error_ratio(ours: torch.Tensor, torch_out: torch.Tensor, exact: torch.Tensor) -> float:
    """Our max error vs fp64 over PyTorch's; the tests require <= 2."""
    if not torch.isfinite(ours).all():
        return float("inf")
    ours_err = (ours.double() - exact).abs().max().item()
    torch_err = (torch_out.double() - exact).abs().max().item()
    return ours_err / torch_err if torch_err else (0.0 if ours_err == 0 else float("inf"))


def report(name: str, ok: bool, detail: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return ok


def check_attention(sizes, device, dtype) -> bool:
    contexts = [1, 1000, 4097, 8192] if device == "cuda" else [1, 17, 130]
    q_lens = [1, 16, 64, 7] if device == "cuda" else [1, 5, 9]
    batch = random_paged_batch(
        q_lens, contexts, num_q_heads=sizes.num_q_heads, num_kv_heads=sizes.num_kv_heads,
        head_dim=sizes.head_dim, block_size=sizes.block_size, dtype=dtype, device=device,
    )  # fmt: skip
    scale, split = sizes.head_dim**-0.5, sizes.split_size
    ours = append_attention(*batch.args(), scale=scale, split_size=split)
    exact = append_attention_ref(
        batch.q.double(), batch.k_cache.double(), batch.v_cache.double(),
        *batch.args()[3:], scale=scale,
    )  # fmt: skip
    ratio = error_ratio(ours, append_attention_ref(*batch.args(), scale=scale), exact)
    ok = report("append_attention vs SDPA", ratio <= 2, f"error = {ratio:.2f} x torch's (<= 2)")
    cu = batch.cu_q_lens.tolist()
    same = all(
        torch.equal(
            ours[cu[b] : cu[b + 1]],
            append_attention(*batch.session(b).args(), scale=scale, split_size=split),
        )
        for b in range(len(contexts))
    )
    ok &= report("batch invariance", same, "each session alone == its rows in the batch, bitwise")
    ones = random_paged_batch(
        [1] * len(contexts), contexts, num_q_heads=sizes.num_q_heads,
        num_kv_heads=sizes.num_kv_heads, head_dim=sizes.head_dim, block_size=sizes.block_size,
        dtype=dtype, device=device, seed=1,
    )  # fmt: skip
    decoded = decode_attention(
        ones.q, ones.k_cache, ones.v_cache, ones.block_tables, ones.kv_lens,
        scale=scale, split_size=split,
    )  # fmt: skip
    appended = append_attention(*ones.args(), scale=scale, split_size=split)
    return ok & report("decode == append", torch.equal(decoded, appended), "q_len 1, bitwise")


def check_moe(sizes, device, dtype, moe_weights) -> bool:
    args = moe_weights(sizes, max(sizes.moe_tokens), dtype, device, seed=3)
    ours = moe_gather_gemv(*args)
    exact = moe_experts_ref(*(t.double() if t.is_floating_point() else t for t in args))
    ratio = error_ratio(ours, moe_experts_ref(*args), exact)
    ok = report("moe_gather_gemv vs expert loop", ratio <= 2, f"error = {ratio:.2f} x torch's")
    x, gate_up, down, ids, weights = args
    alone = moe_gather_gemv(x[:1], gate_up, down, ids[:1], weights[:1])
    return ok & report("moe token independence", torch.equal(alone, ours[:1]), "bitwise")


def check_rmsnorm(sizes, device, dtype) -> bool:
    gen = torch.Generator(device=device).manual_seed(4)
    x = torch.randn(64, sizes.moe_hidden, generator=gen, device=device).to(dtype)
    w = (1 + 0.1 * torch.randn(sizes.moe_hidden, generator=gen, device=device)).to(dtype)
    ours = rmsnorm(x, w, 1e-6)
    ratio = error_ratio(ours, rmsnorm_ref(x, w, 1e-6), rmsnorm_ref(x.double(), w.double(), 1e-6))
    ok = report("rmsnorm vs reference", ratio <= 2, f"error = {ratio:.2f} x torch's")
    same = torch.equal(rmsnorm(x[5:6], w, 1e-6), ours[5:6])
    return ok & report("rmsnorm batch invariance", same, "bitwise")


def check_linear(sizes, device, dtype) -> bool:
    gen = torch.Generator(device=device).manual_seed(5)
    x = torch.randn(max(sizes.linear_rows), sizes.linear_in, generator=gen, device=device)
    w = torch.randn(sizes.linear_out, sizes.linear_in, generator=gen, device=device)
    x, w = x.to(dtype), (w * sizes.linear_in**-0.5).to(dtype)
    ours = linear(x, w)
    ratio = error_ratio(ours, x @ w.T, x.double() @ w.double().T)
    ok = report("linear vs torch", ratio <= 2, f"error = {ratio:.2f} x torch's")
    same = torch.equal(linear(x[3:4], w), ours[3:4])
    return ok & report("linear batch invariance", same, "bitwise")


def check_real_sizes(sizes, device, dtype, moe_weights) -> bool:
    """Run every check (no early exit, so one run shows all failures); True if all pass."""
    print("\ncorrectness")
    results = [
        check_attention(sizes, device, dtype),
        check_moe(sizes, device, dtype, moe_weights),
        check_rmsnorm(sizes, device, dtype),
        check_linear(sizes, device, dtype),
    ]
    return all(results)
