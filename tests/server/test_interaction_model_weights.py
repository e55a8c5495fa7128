"""The shipped embedded model (protocol 2): its files, its Qwen2 format, and its behaviour through
the companion's own serving path: the embedded server child, the TurnLoop with the pinned prefix
the runtime builds from the model's prompt.json, the action grammar, greedy decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from companion.core.clock import MicroTurnClock
from companion.core.events import AudioBlock, FileChanged, JobEvent
from companion.core.protocol import Chunk
from companion.model.action_grammar import default_action_grammar
from companion.model.link import ModelLink
from companion.model.turn_loop import TurnLoop
from companion.rules.prefix_budget import pinned_prefix
from companion.streams.audio import level_dbfs
from companion.streams.dmel import BLOCK, DMelStream
from model_server.training.report import FILES
from model_server.training.stream import EmbeddedModel

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


def _quiet(t: float, dmel: DMelStream, rng: np.random.Generator) -> AudioBlock:
    block = rng.normal(0, 10 ** (-60 / 20), BLOCK).astype(np.float32)  # a quiet room
    return AudioBlock(t, block, level_dbfs(block), dmel.push(block))


async def test_silent_when_quiet_and_relays_a_new_failure():
    link = ModelLink(lambda e: None)  # the embedded server child, as `companion` starts it
    await link.connect()
    try:
        assert link.protocol == 2
        prefix = pinned_prefix([], link.info.get("prompt"), "", "", "")
        loop = TurnLoop(MicroTurnClock(), link, lambda e: None, lambda: prefix,
                        grammar=default_action_grammar())
        rng, dmel = np.random.default_rng(7), DMelStream()
        kinds = []
        for k in range(25):
            t = round(300.0 + 0.2 * k, 1)
            jobs, files = (), ()  # a save, then its test run as the agent reports it
            if k == 11:
                files = (FileChanged(t, "stats.py", "modified",
                                     "--- a/stats.py\n+++ b/stats.py\n@@ -14,3 +14,3 @@\n"
                                     "     mid = len(xs) // 2\n-    return (xs[mid - 1] + xs[mid]) / 2\n"
                                     "+    return (xs[mid] + xs[mid + 1]) / 2\n"),)
            elif k == 12:
                jobs = (JobEvent(t, "job-1", "tests", "started", "tests started", {"origin": "save"}),)
            elif k == 13:
                jobs = (JobEvent(t, "job-1", "tests", "progress", "0 of 5 tests done",
                                 {"done": 0, "total": 5, "failed": 0}),)
            elif k == 15:
                jobs = (JobEvent(t, "job-1", "tests", "progress", "5 of 5 tests done, 1 failed",
                                 {"done": 5, "total": 5, "failed": 1}),
                        JobEvent(t, "job-1", "tests", "result",
                                 "median returns 3.5 for [4, 1, 3, 2], expected 2.5, stats.py line 16, "
                                 "changed just now", {"failures": [{"test": "test_median"}]}),)
            actions = await loop.step(Chunk(tick=1500 + k, t=t, audio=(_quiet(t, dmel, rng),),
                                            files=files, jobs=jobs))
            kinds.append([(a.kind, a.job or a.tool) for a in actions])
        assert all(a == [("silence", "")] for a in kinds[:11]), kinds[:11]  # nothing happened
        assert [("relay", "j1")] in kinds[15:], kinds[15:]  # the new failure, in the agent's words
    finally:
        await link.close()


async def test_a_typed_request_becomes_a_call_of_a_registered_tool():
    """The decision to delegate is learned; picking the right tool is not yet (TRAINING.md)."""
    from companion.core.events import TypedText
    from tools.catalog import default_registry

    link = ModelLink(lambda e: None)
    await link.connect()
    try:
        prefix = pinned_prefix([], link.info.get("prompt"), "", "", "")
        loop = TurnLoop(MicroTurnClock(), link, lambda e: None, lambda: prefix,
                        grammar=default_action_grammar())
        rng, dmel = np.random.default_rng(8), DMelStream()
        calls = []
        for k in range(10):
            t = round(300.0 + 0.2 * k, 1)
            typed = (TypedText(t, "run the tests"),) if k == 5 else ()
            actions = await loop.step(Chunk(tick=1500 + k, t=t, audio=(_quiet(t, dmel, rng),), typed=typed))
            calls += [(k, a) for a in actions if a.kind == "call"]
        assert calls and calls[0][0] >= 5, calls  # after the request, not before
        assert not calls[0][1].error and calls[0][1].tool in default_registry().names()
    finally:
        await link.close()
