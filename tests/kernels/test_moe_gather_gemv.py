"""MoE gather+gemv and the grouped path vs the per-expert loop; token independence; bad inputs."""

from __future__ import annotations

import pytest
import torch

from kernels.moe_gather_gemv import moe_experts, moe_gather_gemv, moe_grouped
from kernels.paged_kv_checks import INTERPRET
from kernels.reference.moe import moe_experts_ref
from tests.kernels.kernel_tolerance import assert_within_torch_error

DEVICE = "cpu" if INTERPRET else "cuda"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def routed_tokens(tokens, hidden=100, inter=37, experts=7, top_k=3, dtype=torch.float32, seed=0):
    """Random tokens, Qwen3-MoE-shaped expert weights and softmax-normalised top-k routing."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(tokens, hidden, generator=gen)
    gate_up = torch.randn(experts, 2 * inter, hidden, generator=gen) * hidden**-0.5
    down = torch.randn(experts, hidden, inter, generator=gen) * inter**-0.5
    logits = torch.randn(tokens, experts, generator=gen)
    weights, ids = torch.topk(logits.softmax(-1), top_k, dim=-1)
    weights = weights / weights.sum(-1, keepdim=True)
    return tuple(
        t.to(DEVICE) for t in (x.to(dtype), gate_up.to(dtype), down.to(dtype), ids, weights)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tokens", [1, 5, 16])
def test_gather_gemv_matches_expert_loop(dtype, tokens):
    args = routed_tokens(tokens, dtype=dtype, seed=tokens)
    exact = moe_experts_ref(*(t.double() if t.is_floating_point() else t for t in args))
    assert_within_torch_error(
        moe_gather_gemv(*args), moe_experts_ref(*args), exact, "moe_gather_gemv"
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_grouped_matches_expert_loop(dtype):
    args = routed_tokens(40, dtype=dtype, seed=2)
    exact = moe_experts_ref(*(t.double() if t.is_floating_point() else t for t in args))
    assert_within_torch_error(moe_grouped(*args), moe_experts_ref(*args), exact, "moe_grouped")


def test_each_token_is_bitwise_independent_of_the_others():
    x, gate_up, down, ids, weights = routed_tokens(5, dtype=torch.float16, seed=4)
    together = moe_gather_gemv(x, gate_up, down, ids, weights)
    for t in range(5):
        alone = moe_gather_gemv(x[t : t + 1], gate_up, down, ids[t : t + 1], weights[t : t + 1])
        assert torch.equal(together[t : t + 1], alone), f"token {t} changed with its batch"


def test_dispatcher_picks_by_token_count():
    few = routed_tokens(16, hidden=40, inter=20, top_k=2, seed=5)
    many = routed_tokens(17, hidden=40, inter=20, top_k=2, seed=5)
    assert torch.equal(moe_experts(*few), moe_gather_gemv(*few))
    assert torch.equal(moe_experts(*many), moe_grouped(*many))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: (a[0][0],) + a[1:], r"x must be \[tokens, hidden\]"),
        (
            lambda a: (a[0].half(),) + a[1:],
            r"dtype mismatch: x torch.float16, gate_up_proj torch.float32",
        ),
        (lambda a: (a[0], a[1][:, :, :-1]) + a[2:], r"shapes disagree"),
        (lambda a: a[:3] + (a[3].float(), a[4]), r"top_k_index must be int32 or int64"),
        (lambda a: a[:3] + (a[3] + 5, a[4]), r"expert ids in \[\d+, \d+\], outside 0..6"),
        (lambda a: a[:4] + (a[4][:, :2],), r"top_k_weights must be floating \[3, 3\]"),
    ],
)
def test_bad_input_names_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        moe_gather_gemv(*change(routed_tokens(3)))


def test_gemv_refuses_too_many_tokens():
    with pytest.raises(ValueError, match="at most 16 tokens, got 17"):
        moe_gather_gemv(*routed_tokens(17))
