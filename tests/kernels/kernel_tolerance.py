"""The tolerance rule of the kernel tests: at most 2x PyTorch's own error against fp64."""

from __future__ import annotations

import torch


def max_abs_error(x: torch.Tensor, exact: torch.Tensor) -> float:
    return (x.double() - exact).abs().max().item()


def assert_within_torch_error(
    kernel_out: torch.Tensor, torch_out: torch.Tensor, exact: torch.Tensor, what: str
) -> None:
    """`kernel_out` may be at most twice as far from `exact` (fp64) as `torch_out` is."""
    assert torch.isfinite(kernel_out).all(), f"{what}: kernel output has NaN/inf"
    torch_err = max_abs_error(torch_out, exact)
    kernel_err = max_abs_error(kernel_out, exact)
    assert kernel_err <= 2 * torch_err, (
        f"{what}: kernel error {kernel_err:.3g} > 2 x torch error {torch_err:.3g} "
        f"(dtype {kernel_out.dtype})"
    )
