"""Batch-invariant linear vs torch (2x rule against fp64), rows bitwise independent of M, bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kernels.matmul import linear
from kernels.paged_kv_checks import INTERPRET
from tests.kernels.kernel_tolerance import assert_within_torch_error

DEVICE = "cpu" if INTERPRET else "cuda"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def operands(m, n, k, dtype, seed=0, bias=True):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen).to(dtype).to(DEVICE)
    w = (torch.randn(n, k, generator=gen) * k**-0.5).to(dtype).to(DEVICE)
    b = torch.randn(n, generator=gen).to(dtype).to(DEVICE) if bias else None
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "n", "k", "bias"), [(1, 97, 130, True), (13, 70, 257, False)])
def test_matches_torch(dtype, m, n, k, bias):
    x, w, b = operands(m, n, k, dtype, seed=m + n, bias=bias)
    exact = F.linear(x.double(), w.double(), None if b is None else b.double())
    assert_within_torch_error(linear(x, w, b), F.linear(x, w, b), exact, "linear")


def test_rows_are_bitwise_independent_of_the_batch():
    x, w, b = operands(70, 40, 100, torch.float16, seed=3)
    together = linear(x, w, b)
    for i in (0, 1, 63, 64, 69):  # first, inside, and either side of a tile edge
        assert torch.equal(together[i : i + 1], linear(x[i : i + 1], w, b)), f"row {i} changed"
    assert torch.equal(together[5:12], linear(x[5:12], w, b))


def test_leading_dims_are_flattened():
    x, w, b = operands(6, 20, 30, torch.float32, seed=4)
    assert torch.equal(linear(x.view(2, 3, 30), w, b), linear(x, w, b).view(2, 3, 20))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, w, b: (x, w[:, :-1], b), r"same K"),
        (
            lambda x, w, b: (x, w.half(), b),
            r"dtype mismatch: x torch.float32, weight torch.float16",
        ),
        (lambda x, w, b: (x, w, b[:-1]), r"bias must be \[20\]"),
        (lambda x, w, b: (x.to(torch.int32), w, b), r"x dtype torch.int32 not supported"),
    ],
)
def test_bad_input_names_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        linear(*change(*operands(3, 20, 30, torch.float32)))
