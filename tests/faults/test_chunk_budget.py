"""Whole-chunk budgets (issue 12 items 2-3): a late window with 30k created files, dozens of job
events and long speech still serializes within the chunk cap, with the real edit shown whole and
the flood in one summary line; measured with the embedded model's real tokenizer too."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer

from companion.core.chunk_budget import approx_tokens
from companion.core.events import FileChanged, JobEvent, SelfSpeech, TypedText, UserWords
from companion.core.protocol import Chunk, ChunkCaps, serialize_chunk
from companion.model.turn_pieces import TurnPiece, split_in_two
from model_server.loader import EMBEDDED_DIR

WINDOW = 900  # the embedded server's session window (companion/model/link.py)
MAX_CHUNK = 2048  # and its per-request limit: over the window, the loop sends a turn in pieces
EDIT = FileChanged(5.0, "src/walk.py", "modified",
                   "--- a/src/walk.py\n+++ b/src/walk.py\n@@ -1,2 +1,2 @@\n def walk(xs):\n"
                   "-    return xs\n+    return xs[1:]\n")


@pytest.fixture(scope="module")
def real_tokens():
    tok = Tokenizer.from_file(str(EMBEDDED_DIR / "tokenizer.json"))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def flood(n: int) -> tuple[FileChanged, ...]:
    return tuple(FileChanged(1.0 + i * 1e-5, f"gen/d{i % 97}/f{i}.py", "created",
                             f"--- /dev/null\n+++ b/gen/d{i % 97}/f{i}.py\n@@ -0,0 +1 @@\n"
                             f"+VALUE_{i} = {i}\n") for i in range(n))


@pytest.mark.parametrize("features", [False, True])
def test_30k_created_files_and_one_edit_fit_one_chunk(features, real_tokens):
    files = flood(15_000) + (EDIT,) + flood(15_000)
    out = serialize_chunk(Chunk(tick=7, t=1.4, ticks=40, files=files), features=features)
    assert "+    return xs[1:]" in out.text  # the edit that matters, whole
    assert "<|more|>30000 more file changes (30000 created) in gen/ (30000)" in out.text \
        or "<|more|>" in out.text and "30000 created" not in out.text  # (some shown whole)
    shown = out.text.count("<|file|>gen/")
    assert f"{30000 - shown} more file changes ({30000 - shown} created)" in out.text
    assert approx_tokens(out.text) <= ChunkCaps().max_tokens
    assert real_tokens(out.text) < WINDOW - 32
    assert out.deferred == ()


def test_a_small_overflow_is_deferred_not_summarized():
    files = flood(40)
    out = serialize_chunk(Chunk(tick=0, t=0.0, files=files), features=False, defer_files=64)
    shown = [f for f in files if f"<|file|>{f.path}\n" in out.text]
    assert shown and out.deferred and "more file changes" not in out.text
    assert len(shown) + len(out.deferred) == 40  # every change: shown now or next
    assert list(out.deferred) == [f for f in files if f not in shown]


def test_every_part_of_a_backlog_chunk_keeps_the_whole_chunk_under_its_cap(real_tokens):
    jobs = tuple(JobEvent(1.0 + i, f"j{i}", "tests", "done", f"{i} tests failed: " + "x " * 80,
                          {"failed": list(range(40))}) for i in range(30))
    words = tuple(UserWords(1.0 + i, "please look at this function again " * 3, True)
                  for i in range(60))
    said = tuple(SelfSpeech(1.0 + i, 1.5 + i, "I think the loop is off by one here " * 2)
                 for i in range(40))
    typed = (TypedText(2.0, "y" * 5000),)
    chunk = Chunk(tick=3, t=0.6, ticks=49, files=flood(300) + (EDIT,), jobs=jobs, words=words,
                  self_speech=said, typed=typed)
    out = serialize_chunk(chunk, features=False)
    caps = ChunkCaps()
    assert approx_tokens(out.text) <= caps.max_tokens
    assert real_tokens(out.text) < MAX_CHUNK
    assert "+    return xs[1:]" in out.text and "more job events" in out.text
    assert "off by one here <|out|>" in out.text  # the newest of the own speech is kept
    assert out.text.count("<|tool|>") >= 2 and "please look" in out.text


def test_split_pieces_concatenate_to_the_turn_with_their_feature_rows():
    text = ("<|t|>1.0<|hear|>" + "<|audio|>" * 8 + "hi<|see|>" + "<|patch|>" * 3
            + "".join(f"<|file|>f{i}.py\n+x = {i}\n" for i in range(9)) + "<|out|>")
    audio = np.arange(8 * 320, dtype=np.uint8).reshape(8, 320)
    patches = [object(), object(), object()]
    pieces = [TurnPiece(text, audio, patches)]
    for _ in range(4):  # split every piece that still has several parts
        pieces = [q for p in pieces for q in (split_in_two(p) if p.text.count("<|") -
                  p.text.count("<|audio|>") - p.text.count("<|patch|>") > 1 else [p])]
    assert len(pieces) >= 8
    assert "".join(p.text for p in pieces) == text
    assert np.array_equal(np.concatenate([p.audio for p in pieces]), audio)
    assert [x for p in pieces for x in p.patches] == patches
    assert all(p.text.count("<|audio|>") == len(p.audio) for p in pieces)


def test_a_single_part_too_large_is_clipped_with_its_rows_in_step():
    text = "<|hear|>" + "<|audio|>" * 40 + "words " * 200
    audio = np.zeros((40, 320), dtype=np.uint8)
    (piece,) = split_in_two(TurnPiece(text, audio, []))
    assert piece.text.endswith("<|more|>") and len(piece.text) < len(text)
    assert piece.text.count("<|audio|>") == len(piece.audio)
    assert not piece.text.removesuffix("<|more|>").endswith(("<", "<|", "<|aud"))
