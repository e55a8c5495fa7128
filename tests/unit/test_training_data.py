"""The generated training sessions: deterministic, in the protocol's format, following the target rules."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from companion.core.protocol import SPECIAL_TOKENS, format_output, parse_output, serialize_chunk
from model_server.training.code_corpus import make_file
from model_server.training.data import build_example, corpus_texts
from model_server.training.edits import BUG_KINDS, clean_edit, plant_bug, revert
from model_server.training.phrases import TOOL_NAMES, pieces
from model_server.training.sessions import generate_session
from model_server.training.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def sessions():
    return [generate_session(seed, 240) for seed in range(6)]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(corpus_texts(seed=3, n_sessions=12, n_turns=150), vocab_size=600)


def _serialized(session):
    return [(serialize_chunk(t.chunk, features=True), format_output(t.actions)) for t in session.turns]


def test_generation_is_deterministic():
    a, b = generate_session(11, 150), generate_session(11, 150)
    assert a.prefix == b.prefix
    for (sa, oa), (sb, ob) in zip(_serialized(a), _serialized(b), strict=True):
        assert (sa.text, oa) == (sb.text, ob)
        assert np.array_equal(sa.audio, sb.audio)
        assert [p.pixels.tobytes() for p in sa.patches] == [p.pixels.tobytes() for p in sb.patches]
    assert _serialized(generate_session(12, 150))[0][0].text != _serialized(a)[0][0].text or \
        generate_session(12, 150).prefix != a.prefix


def test_targets_parse_back_to_the_scripted_actions(sessions):
    for session in sessions:
        for turn in session.turns:
            actions, ended = parse_output(format_output(turn.actions))
            assert ended
            assert [(x.kind, x.text if x.kind == "speech" else "", x.tool, x.args) for x in actions] == \
                   [(x.kind, x.text if x.kind == "speech" else "", x.tool, x.args) for x in turn.actions]


def test_every_turn_carries_four_audio_tokens_and_ends_with_out(sessions):
    for serialized, _ in _serialized(sessions[0]):
        assert serialized.text.count("<|audio|>") == 4 == len(serialized.audio)
        assert serialized.text.endswith("<|out|>")
        assert serialized.text.count("<|patch|>") == len(serialized.patches)
        assert serialized.audio.dtype == np.uint8 and serialized.audio.max() < 16


def test_target_rules_hold(sessions):
    kinds = set()
    for session in sessions:
        spoken, echoed = [], []
        for k, turn in enumerate(session.turns):
            action = turn.actions[0]
            kinds.add(action.kind)
            user_talking = turn.tag in ("listening", "stop")
            if user_talking:  # never speak while the user speaks; stopping is the only action
                assert action.kind in ("silence", "stop")
            if action.kind == "stop":
                nxt = session.turns[k + 1].chunk if k + 1 < len(session.turns) else None
                assert nxt is None or any(s.interrupted for s in nxt.self_speech)
            if action.kind == "call":
                assert action.tool in TOOL_NAMES
            if action.kind == "speech":
                assert len(action.text) <= 20 or " " not in action.text.strip()
                spoken += action.text.split()
            echoed += [w for s in turn.chunk.self_speech for w in s.text.split()]
        assert echoed == spoken[: len(echoed)] or any(t.actions[0].kind == "stop" for t in session.turns)
    assert kinds == {"silence", "speech", "stop", "call"}


def test_speech_after_a_failing_test_result_is_its_summary(sessions):
    found = 0
    for session in sessions:
        for k, turn in enumerate(session.turns):
            fails = [j for j in turn.chunk.jobs if j.tool == "tests" and j.data.get("failed")]
            if fails and turn.tag == "speak_tool":
                said = "".join(t.actions[0].text for t in session.turns[k:k + 12]
                               if t.tag in ("speak_tool", "speak_more"))
                assert said.strip().startswith(fails[0].summary.split()[0])
                assert re.match(r"(\d+ tests failed, first )?test_\w+ failed: \w+ in \w+, line \d+",
                                fails[0].summary)
                found += 1
    assert found > 0


def test_planted_bugs_are_real_diffs_of_every_kind():
    seen = set()
    for seed in range(400):
        rng = random.Random(seed)
        source = make_file(rng)
        bug = plant_bug(source, rng)
        assert bug is not None
        seen.add(bug.kind)
        removed = [ln[1:] for ln in bug.diff.splitlines() if ln.startswith("-")]
        added = [ln[1:] for ln in bug.diff.splitlines() if ln.startswith("+")]
        assert bug.diff.startswith("@@ ") and added != removed
        assert all(ln in source.lines for ln in removed) and all(ln in bug.after.lines for ln in added)
        assert revert(bug).after.lines == source.lines
        clean = clean_edit(source, rng)
        assert clean is not None and clean.kind == "clean" and clean.diff.startswith("@@ ")
    assert set(BUG_KINDS) <= seen


def test_speech_pieces_keep_every_word():
    text = "test_parse_header failed: IndexError in parse_header, line 42"
    parts = pieces(text)
    assert "".join(parts).split() == text.split() and all(p.startswith(" ") for p in parts)
    assert all(len(p) <= 17 or " " not in p.strip() for p in parts)


def test_tokenizer_special_tokens_are_single_fixed_ids(tokenizer):
    for index, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.encode(token, add_special_tokens=False).ids == [index]
    text = "<|t|>12.4<|hear|><|audio|><|audio|>run the tests<|file|>src/a.py\n@@ -1 +1 @@\n-x\n+y<|out|>"
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert tokenizer.decode(ids, skip_special_tokens=False) == text


def test_tokenizer_round_trips_a_serialized_session_chunk(tokenizer, sessions):
    for serialized, target in _serialized(sessions[1])[:80]:
        text = serialized.text + target
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert tokenizer.decode(ids, skip_special_tokens=False) == text


def test_tokenizer_rejects_a_vocabulary_too_small():
    with pytest.raises(ValueError, match="below the 256 bytes"):
        train_tokenizer(["x"], vocab_size=100)


def test_example_marks_exactly_the_output_tokens(tokenizer, sessions):
    ex = build_example(sessions[2], tokenizer, max_len=1024)
    assert len(ex) <= 1024
    audio_id, patch_id = SPECIAL_TOKENS.index("<|audio|>"), SPECIAL_TOKENS.index("<|patch|>")
    assert (ex.ids == audio_id).sum() == len(ex.audio) and (ex.ids == patch_id).sum() == len(ex.patches)
    targets = tokenizer.decode(ex.ids[ex.is_target].tolist(), skip_special_tokens=False)
    assert targets == "".join(ex.target_texts)
    out_id = SPECIAL_TOKENS.index("<|out|>")
    assert all(ex.ids[p] == out_id and ex.is_target[p + 1] for p in ex.out_positions)


def test_example_rejects_a_prefix_over_max_len(tokenizer, sessions):
    with pytest.raises(ValueError, match="pinned prefix alone is"):
        build_example(sessions[0], tokenizer, max_len=8)


def test_lint_result_names_the_unused_variable_at_its_line():
    from model_server.training.phrases import lint_result
    for seed in range(60):
        rng = random.Random(seed)
        source = make_file(rng)
        bug = plant_bug(source, rng)
        if bug.kind != "unused_variable":
            continue
        event = lint_result([bug], t=1.0, job="job-1")
        name = bug.after.lines[bug.line - 1].split("=")[0].strip()
        assert event.summary == (f"F841 local variable '{name}' is assigned to but never used, "
                                 f"line {bug.line}")
        return
    pytest.fail("no unused-variable bug planted in 60 seeds")
