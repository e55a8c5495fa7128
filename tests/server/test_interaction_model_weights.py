"""The shipped embedded model: its files, its Qwen2 format, and its behaviour on a scripted session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from companion.core.events import JobEvent, TypedText
from companion.core.protocol import Chunk, system_prefix
from model_server.training.features import audio_block
from model_server.training.phrases import SYSTEM_TEXTS, TOOL_NAMES, TOOLS_TEXT
from model_server.training.report import FILES
from model_server.training.stream import EmbeddedModel, GreedyStream

WEIGHTS = Path(__file__).resolve().parents[2] / "model_server" / "weights" / "embedded"


@pytest.fixture(scope="module")
def model() -> EmbeddedModel:
    torch.set_num_threads(1)
    return EmbeddedModel.load(WEIGHTS)


def _chunk(k: int, rng: np.random.Generator, **parts) -> Chunk:
    t = round(300.0 + 0.2 * k, 1)
    return Chunk(tick=1500 + k, t=t, audio=(audio_block(t, False, rng),), **parts)


def test_shipped_files_are_complete_and_small():
    sizes = {name: (WEIGHTS / name).stat().st_size for name in FILES}
    assert sum(sizes.values()) < 26 * 2**20, sizes
    config = json.loads((WEIGHTS / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["tie_word_embeddings"] is True
    meta = json.loads((WEIGHTS / "training.json").read_text())
    assert meta["steps"] > 0 and "evaluation" in meta


def test_shipped_decoder_matches_transformers(model):
    transformers = pytest.importorskip("transformers")
    hf = transformers.Qwen2ForCausalLM.from_pretrained(WEIGHTS, torch_dtype=torch.float32).eval()
    ids = torch.tensor([model.tokenizer.encode("<|t|>1.2<|hear|>run the tests<|out|>").ids])
    with torch.no_grad():
        torch.testing.assert_close(model.decoder(ids), hf(input_ids=ids).logits, atol=1e-4, rtol=1e-4)


def test_silent_when_quiet_and_speaks_after_a_failing_test(model):
    rng = np.random.default_rng(7)
    prefix = system_prefix(SYSTEM_TEXTS[0], "Rules:\nTell me when tests fail.\nKeep it short.", TOOLS_TEXT)
    stream = GreedyStream(model, prefix)
    for k in range(10):
        actions, text = stream.turn(_chunk(k, rng))
        assert [a.kind for a in actions] == ["silence"], (k, text)
    for k in range(10, 14):
        actions, text = stream.turn(_chunk(k, rng))
        assert [a.kind for a in actions] == ["silence"], (k, text)
    failure = JobEvent(t=302.8, job_id="job-1", tool="tests", phase="result",
                       summary="test_parse_header failed: IndexError in parse_header, line 42",
                       data={"passed": 11, "failed": 1, "failures": [
                           {"test": "test_parse_header", "error": "IndexError", "file": "src/parse.py",
                            "line": 42}]})
    said = []
    for k, jobs in ((14, (failure,)), (15, ()), (16, ())):
        actions, text = stream.turn(_chunk(k, rng, jobs=jobs))
        said += [a.text for a in actions if a.kind == "speech"]
    assert said, "no speech in the three turns after a failing test result"


def test_typed_request_becomes_a_call_of_a_registered_tool(model):
    """The decision to delegate is learned; picking the right tool mostly is not yet (TRAINING.md)."""
    rng = np.random.default_rng(8)
    prefix = system_prefix(SYSTEM_TEXTS[1], "Rules:\nRun the tests when I ask.", TOOLS_TEXT)
    stream = GreedyStream(model, prefix, max_new=32)
    for k in range(5):
        stream.turn(_chunk(k, rng))
    actions, text = stream.turn(_chunk(5, rng, typed=(TypedText(t=301.0, text="run the tests"),)))
    assert actions[0].kind == "call" and not actions[0].error, text
    assert actions[0].tool in TOOL_NAMES, text
