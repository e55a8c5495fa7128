"""A v2 checkpoint end to end: train a tiny one here, export it with `python -m model_server.training
export`, serve it with our server (`python -m model_server --model DIR`, started by the companion's
ModelLink), and run turns through the companion's TurnLoop under protocol 2 (the v2
evaluation's decode_session): every turn's output parses as one grammar-valid action."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("xgrammar")

from companion.core.events import AudioBlock, JobEvent, TypedText, UserWords
from companion.core.protocol import (
    SPECIAL_TOKENS_V2,
    Action,
    Chunk,
    format_output,
    serialize_chunk,
    system_prefix,
)
from companion.model.link import ModelLink
from companion.streams.audio import level_dbfs
from companion.streams.dmel import BLOCK, DMelStream
from model_server.training.__main__ import main as training_main
from model_server.training.tokenizer import save_tokenizer, train_tokenizer
from model_server.training.v2.data import ROWS_PER_SHARD
from model_server.training.v2.evaluate import decode_session
from model_server.training.v2.export import serving_prompt
from tools.catalog import default_registry

SEQ = 256
TARGETS = [[Action("silence")], [Action("relay", job="j3")], [Action("stop")],
           [Action("speech", text="okay.", whole=True)],
           [Action("call", tool="tests", args={"scope": "all", "paths": []})]]


def _chunks() -> list[Chunk]:
    """Micro-turns like the runtime's: audio with dMel, words, a typed request, a job result."""
    rng, dmel, out = np.random.default_rng(0), DMelStream(), []
    for k in range(6):
        t = round(3.0 + 0.2 * k, 1)
        block = rng.normal(0, 0.003, BLOCK).astype(np.float32)
        audio = (AudioBlock(t, block, level_dbfs(block), dmel.push(block)),)
        jobs = (JobEvent(t, "job-3", "tests", "result", "one test failed: test_median fails an "
                         "assertion at test_stats.py line 4", {"failures": [{"test_id": "x"}]}),) \
            if k == 2 else ()
        typed = (TypedText(t, "run the tests please"),) if k == 4 else ()
        words = (UserWords(t, "so", False),) if k == 1 else ()
        out.append(Chunk(tick=15 + k, t=t, audio=audio, words=words, jobs=jobs, typed=typed))
    return out


def _prefix() -> str:
    prompt = serving_prompt()
    return system_prefix(prompt["system"], "", prompt["tools"])


def _tiny_data(data) -> None:
    """A tokenizer and one shard from serialized protocol-2 turns and their targets."""
    serialized = [serialize_chunk(c, features=True, protocol=2) for c in _chunks()]
    turns = [s.text for s in serialized]
    outs = [format_output(t, protocol=2) for t in TARGETS]
    texts = [_prefix()] + [a + b for a in turns for b in outs]
    tokenizer = train_tokenizer(texts * 4, 700, SPECIAL_TOKENS_V2)
    save_tokenizer(tokenizer, data / "tokenizer", SEQ, SPECIAL_TOKENS_V2)
    row = tokenizer.encode("".join(a + outs[0] for a in turns), add_special_tokens=False).ids
    assert len(row) <= SEQ
    audio = np.concatenate([s.audio for s in serialized])
    ids = np.full((ROWS_PER_SHARD, SEQ), tokenizer.token_to_id("<|end|>"), np.int32)
    ids[:, :len(row)] = row
    (data / "shards").mkdir(parents=True)
    np.savez(data / "shards" / "shard-00000.npz", ids=ids,
             weight=np.ones((ROWS_PER_SHARD, SEQ), np.float16),
             audio=np.concatenate([audio] * ROWS_PER_SHARD),
             audio_n=np.full(ROWS_PER_SHARD, len(audio), np.int64),
             patches=np.zeros((0, 40, 40, 3), np.uint8), patch_n=np.zeros(ROWS_PER_SHARD, np.int64),
             xy=np.zeros((0, 2), np.int64), stats=np.array(json.dumps({})))


async def _turns(model_dir) -> tuple[ModelLink, list]:
    """The evaluation's decoding (TurnLoop, action grammar) over a served export."""
    link = ModelLink(lambda e: None, model=str(model_dir))
    await link.connect()
    try:
        return link, await decode_session(link, _prefix(), _chunks())
    finally:
        await link.close()


def test_exported_v2_checkpoint_serves_parseable_turns(tmp_path):
    data, out, model_dir = tmp_path / "data", tmp_path / "ckpt", tmp_path / "model"
    _tiny_data(data)
    common = ["--data", str(data), "--out", str(out), "--size", "tiny", "--seq-len", str(SEQ),
              "--context", "4096", "--batch", "2", "--tokens", str(4 * 2 * SEQ), "--threads", "1",
              "--warmup", "1", "--save-every", "0", "--log-every", "2"]
    assert training_main(["train", *common]) == 0
    assert training_main(["export", *common, "--export", str(model_dir)]) == 0
    assert json.loads((model_dir / "prompt.json").read_text())["protocol"] == 2

    link, got = asyncio.run(_turns(model_dir))
    assert link.protocol == 2 and link.accepts_features
    assert len(got) == len(_chunks())
    tools = set(default_registry().names())
    for action in got:
        assert action is not None  # a skipped or lost turn has no action
        assert action.kind in ("silence", "speech", "stop", "relay", "call") and not action.error, action
        if action.kind == "call":
            assert action.tool in tools
        if action.kind == "speech":
            assert 1 <= len(action.text.split()) <= 24
