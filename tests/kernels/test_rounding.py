"""fp32 -> bf16 casts inside kernels round to nearest even, like torch (the interpreter truncates)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.paged_kv_checks import INTERPRET
from kernels.rounding import to_dtype

DEVICE = "cpu" if INTERPRET else "cuda"


@triton.jit
def _cast_kernel(x_ptr, out_ptr, N: tl.constexpr, FIX: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(out_ptr + offs, to_dtype(tl.load(x_ptr + offs), out_ptr.dtype.element_ty, FIX))


def test_bf16_cast_matches_torch_round_to_nearest_even():
    gen = torch.Generator().manual_seed(0)
    specials = [float("inf"), -float("inf"), float("nan"), 3.3895314e38, -0.0, 1.5, 1.00390625]
    x = torch.cat([torch.randn(4096 - len(specials), generator=gen), torch.tensor(specials)])
    x = x.to(DEVICE)
    out = torch.empty(4096, dtype=torch.bfloat16, device=DEVICE)
    _cast_kernel[(1,)](x, out, N=4096, FIX=INTERPRET)
    expected = x.to(torch.bfloat16)
    both_nan = out.isnan() & expected.isnan()
    assert ((out == expected) | both_nan).all()
