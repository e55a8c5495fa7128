"""Compiles every kernel for sm_80 / sm_90 ahead of time, no GPU needed: `compile_for_gpu.py 80 90`.

Run without TRITON_INTERPRET, so the real NVIDIA backend (TTIR -> PTX -> ptxas) sees the
code the interpreter tests only emulate. Exits non-zero on the first failure.
"""

from __future__ import annotations

import os
import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from kernels.append_attention import _merge_kernel, _split_kernel
from kernels.matmul import _linear_kernel
from kernels.moe_gather_gemv import _combine_kernel, _down_kernel, _gate_up_kernel
from kernels.rmsnorm import _rmsnorm_kernel

SHARED_LIMIT = {80: 163 * 1024, 90: 227 * 1024}  # bytes of shared memory per block


def arg_types(spec: str) -> dict[str, str]:
    """'q_ptr:*bf16 n:i32' -> {'q_ptr': '*bf16', 'n': 'i32'}."""
    return dict(item.split(":") for item in spec.split())


SPLIT_TYPES = arg_types(
    "q_ptr:*bf16 k_cache_ptr:*bf16 v_cache_ptr:*bf16 block_tables_ptr:*i32 cu_q_lens_ptr:*i32 "
    "kv_lens_ptr:*i32 part_offsets_ptr:*i32 work_session_ptr:*i32 work_split_ptr:*i32 m_ptr:*fp32 l_ptr:*fp32 acc_ptr:*fp32 "
    "qk_scale:fp32 stride_qt:i32 stride_qh:i32 stride_bt:i32 num_m_tiles:i32"
)
SPLIT_CONSTS = {
    "NUM_KV_HEADS": 4, "GROUP": 8, "HEAD_DIM": 128, "BLOCK_D": 128, "BLOCK_SIZE": 16,
    "SPLIT_SIZE": 256, "BLOCK_M": 64, "BLOCK_N": 64, "INTERPRETER": False, "DOT_PRECISION": "tf32",
}  # fmt: skip
SPLIT_OPTIONS = {"num_warps": 4, "num_stages": 2}
MOE_CONSTS = {"HIDDEN": 2048, "INTER": 768, "TOP_K": 8, "BLOCK_C": 128}
CASES = [
    (_split_kernel, SPLIT_TYPES, SPLIT_CONSTS | {"DECODE": False}, SPLIT_OPTIONS),
    (_split_kernel, SPLIT_TYPES, SPLIT_CONSTS | {"DECODE": True}, SPLIT_OPTIONS),
    (
        _merge_kernel,
        arg_types(
            "m_ptr:*fp32 l_ptr:*fp32 acc_ptr:*fp32 q_pos_ptr:*i32 q_part_row_ptr:*i32 out_ptr:*bf16"
        ),
        {"NUM_HEADS": 32, "HEAD_DIM": 128, "BLOCK_D": 128, "SPLIT_SIZE": 256, "INTERPRETER": False},
        {},
    ),
    (
        _gate_up_kernel,
        arg_types("x_ptr:*bf16 gate_up_ptr:*bf16 ids_ptr:*i64 act_ptr:*fp32"),
        MOE_CONSTS | {"BLOCK_R": 16},
        {},
    ),
    (
        _down_kernel,
        arg_types("act_ptr:*fp32 down_ptr:*bf16 ids_ptr:*i64 expert_out_ptr:*fp32"),
        {"HIDDEN": 2048, "INTER": 768, "BLOCK_R": 32, "BLOCK_C": 128},
        {},
    ),
    (
        _combine_kernel,
        arg_types("expert_out_ptr:*fp32 weights_ptr:*fp32 out_ptr:*bf16"),
        {"HIDDEN": 2048, "TOP_K": 8, "BLOCK": 256, "INTERPRETER": False},
        {},
    ),
    (
        _linear_kernel,
        arg_types(
            "x_ptr:*bf16 w_ptr:*bf16 bias_ptr:*bf16 out_ptr:*bf16 M:i32 N:i32 K:i32 "
            "stride_xm:i32 stride_wn:i32"
        ),
        {
            "HAS_BIAS": True,
            "BLOCK_M": 64,
            "BLOCK_N": 64,
            "BLOCK_K": 64,
            "INTERPRETER": False,
            "DOT_PRECISION": "tf32",
        },
        {},
    ),
    (
        _rmsnorm_kernel,
        arg_types("x_ptr:*bf16 w_ptr:*bf16 out_ptr:*bf16 stride_x:i32 eps:fp32"),
        {"WIDTH": 2048, "BLOCK": 2048, "INTERPRETER": False},
        {},
    ),
]


def main(archs: list[int]) -> int:
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("run without TRITON_INTERPRET: the interpreter replaces the compiler")
        return 2
    for arch in archs:
        target = GPUTarget("cuda", arch, 32)
        for fn, types, consts, options in CASES:
            signature = {n: "constexpr" if n in consts else types[n] for n in fn.arg_names}
            kernel = triton.compile(
                ASTSource(fn, signature, constexprs=consts), target=target, options=options
            )
            shared = kernel.metadata.shared
            if shared > SHARED_LIMIT[arch]:
                print(f"{fn.__name__} sm_{arch}: {shared} B shared memory > {SHARED_LIMIT[arch]}")
                return 1
            print(f"ok {fn.__name__} sm_{arch} {consts.get('DECODE', '')} shared={shared}")
    return 0


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or [90]))
