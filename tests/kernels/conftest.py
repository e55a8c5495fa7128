"""Kernel tests run on CUDA when present, else on CPU under the Triton interpreter."""

from __future__ import annotations

import os

import torch

# Must happen before any test module imports `kernels` (triton.jit decides at decoration time).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
