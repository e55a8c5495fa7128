"""fp32 -> bf16 casts that round to nearest even under the Triton interpreter, as GPUs do.

Measured with triton 3.9: `x.to(tl.bfloat16)` under TRITON_INTERPRET=1 truncates (about
half of random fp32 values land one bf16 ulp off torch's round-to-nearest-even), while the
GPU's cvt.rn rounds to nearest. Kernels cast through `to_dtype` so interpreter runs carry
the GPU's rounding; on a GPU (`FIX=False`) it is a plain cast.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def to_dtype(x, dtype: tl.constexpr, FIX: tl.constexpr):
    """Cast fp32 `x` to `dtype`; with FIX, round to nearest even first when dtype is bf16."""
    if FIX and dtype == tl.bfloat16:
        bits = x.to(tl.uint32, bitcast=True)
        is_nan = (bits & 0x7FFFFFFF) > 0x7F800000  # rounding could carry a NaN into inf
        # add half a bf16 ulp (ties to even), then drop the low 16 bits: truncation is exact
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        x = tl.where(is_nan, x, rounded.to(tl.float32, bitcast=True))
    return x.to(dtype)
