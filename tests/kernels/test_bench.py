"""`python -m kernels.bench`: the CPU smoke run passes its correctness stage; no GPU, no run."""

from __future__ import annotations

import pytest
import torch

from kernels import bench


def test_smoke_run_passes_correctness_and_prints_tables(capsys):
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert out.count("PASS") == 9
    assert "decode ctx=200 b=3 q=1" in out and "moe tokens=4" in out and "linear 5x64" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_refuses_without_gpu(capsys):
    assert bench.main([]) == 2
    assert "no CUDA device is visible" in capsys.readouterr().err
