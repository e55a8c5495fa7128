"""The engine on `--attention-backend triton` (the Triton interpreter on CPU) gives the same tokens
as the torch backend, and keeps batch invariance bitwise with the kernels' fixed split rule."""

from __future__ import annotations

import os

import pytest
import torch

from tests.server.conftest import make_core
from tests.server.test_batch_invariance import drive
from tests.server.test_model_vs_transformers import ids_of

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1",
    reason="Triton on CPU needs TRITON_INTERPRET=1 set before import (scripts/test.sh sets it)")

CHUNKS = [ids_of(21, 1), ids_of(5, 2), ids_of(9, 3)]


@pytest.mark.parametrize("family", ["qwen2", "qwen3_moe"])
def test_triton_backend_gives_the_torch_tokens(tiny_models, family):
    d, _ = tiny_models[family]
    torch_rows, torch_tokens = drive(make_core(d, split_size=32), CHUNKS)
    triton_rows, triton_tokens = drive(make_core(d, attention_backend="triton", split_size=32), CHUNKS)
    assert triton_tokens == torch_tokens
    torch.testing.assert_close(triton_rows, torch_rows, atol=1e-4, rtol=1e-4)


def test_triton_backend_is_batch_invariant_bitwise(tiny_models):
    d, _ = tiny_models["qwen2"]
    opts = {"attention_backend": "triton", "batch_invariant": True, "split_size": 32}
    alone_rows, alone_tokens = drive(make_core(d, **opts), CHUNKS)
    rows, tokens = drive(make_core(d, **opts), CHUNKS, others=[(13, 2), (40, 1)])
    assert tokens == alone_tokens and torch.equal(rows, alone_rows)
