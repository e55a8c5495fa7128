"""Bad inputs to the attention launchers raise ValueErrors that say what is wrong."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from kernels import paged_kv_checks
from kernels.append_attention import append_attention
from kernels.paged_kv_checks import INTERPRET
from kernels.reference.paged_cache import random_paged_batch

DEVICE = "cpu" if INTERPRET else "cuda"


@pytest.fixture
def batch():
    return random_paged_batch(
        [2, 3],
        [17, 40],
        num_q_heads=4,
        num_kv_heads=2,
        head_dim=16,
        dtype=torch.float16,
        device=DEVICE,
    )


def call(batch, **overrides):
    fields = dataclasses.asdict(batch) | overrides
    return append_attention(
        fields["q"],
        fields["k_cache"],
        fields["v_cache"],
        fields["block_tables"],
        fields["cu_q_lens"],
        fields["kv_lens"],
        scale=overrides.get("scale", 0.25),
        split_size=overrides.get("split", 32),
    )


def test_valid_batch_runs(batch):
    assert torch.isfinite(call(batch)).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: {"q": b.q[:, :, 0]}, r"q must be \[total_q, num_q_heads, head_dim\]"),
        (lambda b: {"q": b.q.float()}, r"dtype mismatch: q torch.float32, k_cache torch.float16"),
        (lambda b: {"q": b.q.to(torch.int32)}, r"q dtype torch.int32 not supported"),
        (lambda b: {"v_cache": b.v_cache[:, :, :1]}, r"v_cache shape .* != k_cache shape"),
        (lambda b: {"q": b.q[:, :3]}, r"num_q_heads 3 is not a multiple of num_kv_heads 2"),
        (lambda b: {"q": b.q[..., :8]}, r"q head_dim 8 != cache head_dim 16"),
        (
            lambda b: {"k_cache": b.k_cache.transpose(0, 1).contiguous().transpose(0, 1)},
            r"k_cache and v_cache must be contiguous",
        ),
        (lambda b: {"block_tables": b.block_tables.long()}, r"block_tables must be int32"),
        (
            lambda b: {"block_tables": b.block_tables.t().contiguous().t()},
            r"block_tables rows must have unit stride",
        ),
        (lambda b: {"kv_lens": b.kv_lens.repeat_interleave(2)[::2]}, r"kv_lens must be contiguous"),
        (lambda b: {"kv_lens": b.kv_lens[:1]}, r"kv_lens must have shape \[2\]"),
        (
            lambda b: {"cu_q_lens": b.cu_q_lens - 1},
            r"cu_q_lens must start at 0 and end at total_q=5",
        ),
        (lambda b: {"kv_lens": b.kv_lens.clone().fill_(1)}, r"session 0: q_len 2 > kv_len 1"),
        (
            lambda b: {"kv_lens": b.kv_lens + 40},
            r"session 1: kv_len 80 needs 5 blocks but block_tables has 3",
        ),
        (lambda b: {"split": 24}, r"split_size 24 must be a positive multiple of block_size 16"),
        (lambda b: {"scale": float("nan")}, r"scale must be a positive finite number, got nan"),
        (lambda b: {"scale": torch.tensor(0.25)}, r"scale must be a positive finite number"),
    ],
)
def test_bad_input_names_the_problem(batch, change, message):
    with pytest.raises(ValueError, match=message):
        call(batch, **change(batch))


@pytest.mark.parametrize("entry", [-1, 7, 1000])
def test_block_table_entry_out_of_range(batch, entry):
    tables = batch.block_tables.clone()
    tables[1, 2] = entry  # session 1 (kv_len 40) uses 3 pages; the cache has 5 used + 2 spare
    with pytest.raises(
        ValueError, match=rf"block_tables\[1, 2\] = {entry} is not a block of the cache \(0..6\)"
    ):
        call(batch, block_tables=tables)


def test_padding_past_kv_len_is_not_checked(batch):
    tables = batch.block_tables.clone()
    tables[0, 2] = -1  # session 0 (kv_len 17) only uses 2 pages: the rest is padding
    assert torch.equal(call(batch, block_tables=tables), call(batch))


def test_wrong_device_for_the_mode_is_named(batch, monkeypatch):
    monkeypatch.setattr(paged_kv_checks, "INTERPRET", not INTERPRET)
    with pytest.raises(ValueError, match=r"q is on"):
        call(batch)
