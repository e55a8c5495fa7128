"""Resuming v2 training from a checkpoint continues the exact loss trajectory of an uninterrupted run."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.__main__ import _args
from model_server.training.tokenizer import save_tokenizer, train_tokenizer
from model_server.training.v2.data import ROWS_PER_SHARD
from model_server.training.v2.trainer import train

SEQ = 64


def _data(tmp_path):
    data = tmp_path / "data"
    texts = ["<|t|>1.0<|hear|>run the tests<|out|><|call|>{\"tool\": \"tests\"}<|end|>"] * 20
    tokenizer = train_tokenizer(texts, 300, SPECIAL_TOKENS_V2)
    save_tokenizer(tokenizer, data / "tokenizer", SEQ, SPECIAL_TOKENS_V2)
    rng = np.random.default_rng(0)
    (data / "shards").mkdir(parents=True)
    vocab = tokenizer.get_vocab_size()
    ids = rng.integers(len(SPECIAL_TOKENS_V2), vocab, (ROWS_PER_SHARD, SEQ)).astype(np.int32)
    ids[:, 5] = SPECIAL_TOKENS_V2.index("<|audio|>")  # one audio row per sequence: the front-end trains too
    weight = (rng.random((ROWS_PER_SHARD, SEQ)) < 0.3).astype(np.float16)
    np.savez(data / "shards" / "shard-00000.npz", ids=ids, weight=weight,
             audio=rng.integers(0, 16, (ROWS_PER_SHARD, 320)).astype(np.uint8),
             audio_n=np.ones(ROWS_PER_SHARD, np.int64),
             patches=np.zeros((0, 40, 40, 3), np.uint8), patch_n=np.zeros(ROWS_PER_SHARD, np.int64),
             xy=np.zeros((0, 2), np.int64), stats=np.array(json.dumps({})))
    return data


def _run(data, out, *extra):
    args = _args(["train", "--data", str(data), "--out", str(out), "--size", "tiny", "--seq-len", str(SEQ),
                  "--context", "128", "--batch", "2", "--tokens", str(6 * 2 * SEQ), "--threads", "1",
                  "--warmup", "2", "--save-every", "0", "--log-every", "1", *extra])
    return train(args)


def test_resume_matches_an_uninterrupted_run(tmp_path):
    data = _data(tmp_path)
    whole = _run(data, tmp_path / "whole")
    first = _run(data, tmp_path / "parts", "--stop-after", "3")
    rest = _run(data, tmp_path / "parts", "--resume")
    assert len(whole) == 6 and len(first) == 3 and len(rest) == 3
    assert first + rest == whole  # exactly the same floats, step by step
    assert whole[0] != whole[-1]  # it really trained


def test_a_short_shard_set_is_cycled_each_pass_in_a_new_order(tmp_path):
    from model_server.training.v2.trainer import RowStream

    stream = RowStream(tmp_path, n_shards=3)
    first = [stream.shard_of(r * ROWS_PER_SHARD)[0] for r in range(3)]
    passes = [[stream.shard_of((p * 3 + s) * ROWS_PER_SHARD)[0] for s in range(3)] for p in (1, 2, 3)]
    assert first == [0, 1, 2]  # the first pass reads the shards as written
    for order in passes:
        assert sorted(order) == [0, 1, 2]  # every later pass reads each shard once
    assert len({tuple(o) for o in [first, *passes]}) > 1  # and not always in the same order
    assert stream.shard_of(4 * ROWS_PER_SHARD + 5)[1] == 5  # the row within the shard is kept
    assert RowStream(tmp_path).shard_of(7 * ROWS_PER_SHARD)[0] == 7  # no cap: no cycling


def test_content_weight_scales_only_what_an_action_says(tmp_path):
    from model_server.training.v2 import trainer
    from model_server.training.v2.data import ACT_WEIGHT, DECISION_WEIGHT

    data = _data(tmp_path)
    shard = np.load(data / "shards" / "shard-00000.npz")
    weight = shard["weight"].astype(np.float32)
    weight[:, 10:14] = [DECISION_WEIGHT, ACT_WEIGHT, ACT_WEIGHT, 1.0]
    np.savez(data / "shards" / "shard-00000.npz", **{**dict(shard), "weight": weight.astype(np.float16)})
    seen = []
    real_loss = trainer.output_loss

    def spy(hidden, decoder, ids, w):
        seen.append(w.clone())
        return real_loss(hidden, decoder, ids, w)

    trainer.output_loss = spy
    try:
        _run(data, tmp_path / "out", "--content-weight", "4", "--stop-after", "1")
    finally:
        trainer.output_loss = real_loss
    row = seen[0][0, 10:14].tolist()
    assert row == [DECISION_WEIGHT, 4 * ACT_WEIGHT, 4 * ACT_WEIGHT, 1.0]


def test_a_first_shard_offsets_the_stream_and_its_passes(tmp_path):
    from model_server.training.v2.trainer import RowStream

    stream = RowStream(tmp_path, n_shards=8, first=5)
    first = [stream.shard_of(r * ROWS_PER_SHARD)[0] for r in range(3)]
    later = [stream.shard_of((p * 3 + s) * ROWS_PER_SHARD)[0] for p in (1, 2) for s in range(3)]
    assert first == [5, 6, 7]  # the shards below 5 (an earlier run's) are never read
    assert sorted(later) == [5, 5, 6, 6, 7, 7]
    with pytest.raises(SystemExit):
        _args(["train", "--first-shard", "8", "--shards", "8"])


def test_init_starts_a_fine_tune_from_another_runs_weights(tmp_path):
    data = _data(tmp_path)
    _run(data, tmp_path / "base")
    base = torch.load(tmp_path / "base" / "ckpt.pt", weights_only=False)
    tuned = _run(data, tmp_path / "tuned", "--init", str(tmp_path / "base" / "ckpt.pt"), "--stop-after", "1")
    fresh = _run(data, tmp_path / "fresh", "--stop-after", "1")
    assert tuned[0] < fresh[0]  # it starts where the base run ended, not from random weights
    state = torch.load(tmp_path / "tuned" / "ckpt.pt", weights_only=False)
    assert state["step"] == 1 and state["meta"]["init"]["checkpoint"].endswith("ckpt.pt")  # a new schedule
    assert base["step"] == 6


def test_a_fine_tunes_export_says_what_it_started_from(tmp_path):
    from model_server.training.v2.export import export

    data = _data(tmp_path)
    _run(data, tmp_path / "base")
    _run(data, tmp_path / "tuned", "--init", str(tmp_path / "base" / "ckpt.pt"), "--stop-after", "2")
    args = _args(["export", "--size", "tiny", "--seq-len", str(SEQ), "--context", "128"])
    export(tmp_path / "tuned", data, tmp_path / "model", args)
    meta = json.loads((tmp_path / "model" / "training.json").read_text())
    assert meta["steps"] == 2 and meta["fine_tune_of"]["steps"] == 6
    assert meta["tokens_seen_total"] == (6 + 2) * 2 * SEQ
    # a fine-tune of that fine-tune counts every run in the chain, and names both
    _run(data, tmp_path / "again", "--init", str(tmp_path / "tuned" / "ckpt.pt"), "--stop-after", "1")
    export(tmp_path / "again", data, tmp_path / "model2", args)
    meta = json.loads((tmp_path / "model2" / "training.json").read_text())
    assert meta["tokens_seen_total"] == (6 + 2 + 1) * 2 * SEQ
    assert meta["fine_tune_of"]["steps"] == 2 and meta["fine_tune_of"]["fine_tune_of"]["steps"] == 6


def test_init_from_an_exported_model_directory_equals_init_from_its_checkpoint(tmp_path):
    """The shipped weights are an export, not a checkpoint: a fine-tune of them must start from
    exactly the same weights and carry their provenance chain."""
    from model_server.training.v2.export import export

    data = _data(tmp_path)
    _run(data, tmp_path / "base")
    _run(data, tmp_path / "tuned", "--init", str(tmp_path / "base" / "ckpt.pt"), "--stop-after", "2")
    args = _args(["export", "--size", "tiny", "--seq-len", str(SEQ), "--context", "128"])
    export(tmp_path / "tuned", data, tmp_path / "model", args)
    from_ckpt = _run(data, tmp_path / "a", "--init", str(tmp_path / "tuned" / "ckpt.pt"), "--stop-after", "2")
    from_dir = _run(data, tmp_path / "b", "--init", str(tmp_path / "model"), "--stop-after", "2")
    assert from_dir == from_ckpt  # the same floats: the export lost nothing the fine-tune uses
    init = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=False)["meta"]["init"]
    assert init["checkpoint"] == str(tmp_path / "model") and init["steps"] == 2
    assert init["tokens_seen_total"] == (6 + 2) * 2 * SEQ and init["fine_tune_of"]["steps"] == 6
