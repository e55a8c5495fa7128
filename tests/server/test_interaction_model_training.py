"""A few training steps on a tiny configuration lower the output-token loss; checkpoints reload."""

from __future__ import annotations

import json

import pytest
import torch

from model_server.training.stream import EmbeddedModel
from model_server.training.train import main, parse_args


def test_few_steps_reduce_loss_and_save_a_loadable_model(tmp_path):
    argv = ["--out", str(tmp_path), "--steps", "40", "--hidden", "64", "--intermediate", "128",
            "--layers", "2", "--heads", "4", "--kv-heads", "2", "--seq-len", "384", "--batch", "2",
            "--vocab", "700", "--tokenizer-sessions", "8", "--log-every", "5", "--threads", "1",
            "--warmup", "10"]
    torch.manual_seed(0)
    assert main(argv) == 0
    meta = json.loads((tmp_path / "training.json").read_text())
    curve = [loss for _, loss in meta["loss_curve"]]
    assert meta["steps"] == 40 and len(curve) == 8
    assert curve[-1] < 0.7 * curve[0], curve
    model = EmbeddedModel.load(tmp_path)
    assert model.decoder.config.hidden_size == 64 and model.tokenizer.get_vocab_size() == 700


def test_rejects_a_sequence_longer_than_the_context(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--out", "x", "--seq-len", "4096", "--context", "2048"])
    assert exc.value.code == 2
    assert "--seq-len 4096 is over --context 2048" in capsys.readouterr().err
