"""RMSNorm vs the transformers-style reference; rows bitwise independent of the batch; bad inputs."""

from __future__ import annotations

import pytest
import torch

from kernels.paged_kv_checks import INTERPRET
from kernels.reference.rmsnorm import rmsnorm_ref
from kernels.rmsnorm import rmsnorm
from tests.kernels.kernel_tolerance import assert_within_torch_error

DEVICE = "cpu" if INTERPRET else "cuda"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def rows_and_weight(shape, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=gen) * 3).to(dtype).to(DEVICE)
    w = (1 + 0.1 * torch.randn(shape[-1], generator=gen)).to(dtype).to(DEVICE)
    return x, w


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 64), (13, 97), (3, 5, 128), (7, 2048)])
def test_matches_reference(dtype, shape):
    x, w = rows_and_weight(shape, dtype, seed=shape[-1])
    exact = rmsnorm_ref(x.double(), w.double(), 1e-6)
    assert_within_torch_error(rmsnorm(x, w, 1e-6), rmsnorm_ref(x, w, 1e-6), exact, "rmsnorm")


def test_rows_are_bitwise_independent_of_the_batch():
    x, w = rows_and_weight((11, 257), torch.float16, seed=1)
    together = rmsnorm(x, w, 1e-6)
    for i in range(11):
        assert torch.equal(together[i : i + 1], rmsnorm(x[i : i + 1], w, 1e-6)), f"row {i} changed"


def test_strided_rows_are_normalised_like_contiguous_ones():
    x, w = rows_and_weight((6, 40), torch.float32, seed=2)
    assert torch.equal(rmsnorm(x[::2], w, 1e-6), rmsnorm(x[::2].contiguous(), w, 1e-6))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, w: (x, w[:-1]), r"weight must be \[97\]"),
        (lambda x, w: (x, w.half()), r"dtype mismatch: x torch.float32, weight torch.float16"),
        (lambda x, w: (x.to(torch.int32), w), r"x dtype torch.int32 not supported"),
        (lambda x, w: (x[:, :0], w[:0]), r"H > 0"),
    ],
)
def test_bad_input_names_the_problem(change, message):
    x, w = change(*rows_and_weight((3, 97), torch.float32))
    with pytest.raises(ValueError, match=message):
        rmsnorm(x, w, 1e-6)
