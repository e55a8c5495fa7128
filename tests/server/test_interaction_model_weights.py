"""The shipped embedded model (protocol 2): its files, its Qwen2 format, and its behaviour through
the companion's own serving path: the embedded server child, the TurnLoop with the pinned prefix
the runtime builds from the model's prompt.json, the action grammar, greedy decoding."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from companion.core.clock import MicroTurnClock
from companion.core.events import AudioBlock, FileChanged, JobEvent, TypedText
from companion.core.protocol import Chunk
from companion.model.action_grammar import default_action_grammar
from companion.model.link import ModelLink
from companion.model.turn_loop import TurnLoop
from companion.rules.prefix_budget import pinned_prefix
from companion.streams.audio import level_dbfs
from companion.streams.dmel import BLOCK, DMelStream
from model_server.training.report import FILES
from model_server.training.stream import EmbeddedModel
from tools.catalog import default_registry

WEIGHTS = Path(__file__).resolve().parents[2] / "model_server" / "weights" / "embedded"
pytestmark = pytest.mark.slow


def test_shipped_files_are_complete_and_small():
    sizes = {name: (WEIGHTS / name).stat().st_size for name in FILES}
    assert sum(sizes.values()) < 26 * 2**20, sizes
    config = json.loads((WEIGHTS / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["tie_word_embeddings"] is True
    meta = json.loads((WEIGHTS / "training.json").read_text())
    assert meta["protocol"] == 2 and meta["steps"] > 0 and "evaluation" in meta
    assert json.loads((WEIGHTS / "prompt.json").read_text())["protocol"] == 2


def test_shipped_decoder_matches_transformers():
    transformers = pytest.importorskip("transformers")
    torch.set_num_threads(1)
    model = EmbeddedModel.load(WEIGHTS)
    hf = transformers.Qwen2ForCausalLM.from_pretrained(WEIGHTS, torch_dtype=torch.float32).eval()
    ids = torch.tensor([model.tokenizer.encode("<|t|>1.2<|hear|>run the tests<|out|>").ids])
    with torch.no_grad():
        torch.testing.assert_close(model.decoder(ids), hf(input_ids=ids).logits, atol=1e-4, rtol=1e-4)


def _t(k: int) -> float:
    return round(300.0 + 0.2 * k, 1)


@contextlib.asynccontextmanager
async def shipped_model(seed: int):
    """The embedded server child as `companion` starts it and a TurnLoop with the prefix the
    runtime builds and the action grammar; yields step(k, **chunk parts) -> micro-turn k's
    actions, its audio a quiet room."""
    link = ModelLink(lambda e: None)
    await link.connect()
    try:
        assert link.protocol == 2
        prefix = pinned_prefix([], link.info.get("prompt"), "", "", "")
        loop = TurnLoop(MicroTurnClock(), link, lambda e: None, lambda: prefix,
                        grammar=default_action_grammar())
        rng, dmel = np.random.default_rng(seed), DMelStream()

        async def step(k: int, **parts):
            block = rng.normal(0, 10 ** (-60 / 20), BLOCK).astype(np.float32)
            audio = AudioBlock(_t(k), block, level_dbfs(block), dmel.push(block))
            return await loop.step(Chunk(tick=1500 + k, t=_t(k), audio=(audio,), **parts))

        yield step
    finally:
        await link.close()


async def test_silent_when_quiet_and_relays_a_new_failure():
    diff = ("--- a/stats.py\n+++ b/stats.py\n@@ -14,3 +14,3 @@\n     mid = len(xs) // 2\n"
            "-    return (xs[mid - 1] + xs[mid]) / 2\n+    return (xs[mid] + xs[mid + 1]) / 2\n")
    summary = "median returns 3.5 for [4, 1, 3, 2], expected 2.5, stats.py line 16, changed just now"
    # a save, then its test run as the agent reports it
    parts = {11: {"files": (FileChanged(_t(11), "stats.py", "modified", diff),)},
             12: {"jobs": (JobEvent(_t(12), "job-1", "tests", "started", "tests started",
                                    {"origin": "save"}),)},
             13: {"jobs": (JobEvent(_t(13), "job-1", "tests", "progress", "0 of 5 tests done",
                                    {"done": 0, "total": 5, "failed": 0}),)},
             15: {"jobs": (JobEvent(_t(15), "job-1", "tests", "progress", "5 of 5 tests done, 1 failed",
                                    {"done": 5, "total": 5, "failed": 1}),
                           JobEvent(_t(15), "job-1", "tests", "result", summary,
                                    {"failures": [{"test": "test_median"}]}))}}
    async with shipped_model(seed=7) as step:
        kinds = [[(a.kind, a.job or a.tool) for a in await step(k, **parts.get(k, {}))]
                 for k in range(25)]
    assert all(a == [("silence", "")] for a in kinds[:11]), kinds[:11]  # nothing happened
    assert [("relay", "j1")] in kinds[15:], kinds[15:]  # the new failure, in the agent's words


async def test_a_typed_request_becomes_a_call_of_a_registered_tool():
    """The decision to delegate is learned; picking the right tool is not yet (TRAINING.md)."""
    async with shipped_model(seed=8) as step:
        calls = []
        for k in range(10):
            typed = (TypedText(_t(k), "run the tests"),) if k == 5 else ()
            calls += [(k, a) for a in await step(k, typed=typed) if a.kind == "call"]
    assert calls and calls[0][0] >= 5, calls  # after the request, not before
    assert not calls[0][1].error and calls[0][1].tool in default_registry().names()
