"""Protocol 2: the appended special tokens, the `<|tool|>j<ID>` job line, one action per turn,
and protocol 1 left byte-identical."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    SelfSpeech,
    TypedText,
    UserWords,
)
from companion.core.protocol import (
    SPECIAL_TOKENS,
    SPECIAL_TOKENS_V2,
    Action,
    Chunk,
    format_output,
    job_ref,
    parse_output,
    serialize_chunk,
)

FAILED = JobEvent(3.1, "job-3", "tests", "result",
                  "median returns 1 for [3, 1, 2], expected 2, stats.py line 11",
                  {"failures": [{"test_id": "t::test_median", "line": 11}]})


def test_v2_tokens_are_the_17_v1_tokens_then_speak_and_relay():
    assert SPECIAL_TOKENS_V2[:17] == SPECIAL_TOKENS and len(SPECIAL_TOKENS) == 17
    assert SPECIAL_TOKENS_V2[17:] == ("<|speak|>", "<|relay|>")


def test_a_tokenizer_trained_for_v2_gives_speak_17_and_relay_18():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=list(SPECIAL_TOKENS_V2),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(["<|speak|>the test fails<|end|>"] * 10, trainer)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS_V2] == list(range(19))
    assert tok.encode("<|relay|>j3<|end|>").ids[0] == 18


def test_job_line_v2_is_id_status_and_the_composed_summary():
    text = serialize_chunk(Chunk(tick=16, t=3.2, jobs=(FAILED,)), features=False, protocol=2).text
    assert text == ("<|t|>3.2<|tool|>j3 failed: median returns 1 for [3, 1, 2], expected 2, "
                    "stats.py line 11<|out|>")
    passed = JobEvent(4.0, "job-12", "tests", "result", "all 8 tests pass",
                      {"failures": [], "counts": {"passed": 8, "failed": 0}})
    started = JobEvent(4.0, "job-13", "lint", "started")
    refused = JobEvent(4.0, "-", "?", "error", "call is not valid JSON")
    text = serialize_chunk(Chunk(tick=20, t=4.0, jobs=(passed, started, refused)),
                           features=False, protocol=2).text
    assert ("<|tool|>j12 done: all 8 tests pass<|tool|>j13 started"
            "<|tool|>error: call is not valid JSON<|out|>") in text
    assert job_ref("job-3") == "j3" and job_ref("-") == ""


def test_v2_job_line_is_redacted_and_capped():
    leaky = JobEvent(1.0, "job-1", "tests", "error", "token ghp_" + "x" * 36 + " " + "y " * 400)
    text = serialize_chunk(Chunk(tick=5, t=1.0, jobs=(leaky,)), features=False, protocol=2).text
    assert "ghp_" not in text and text.endswith("<|more|><|out|>")


def full_chunk() -> Chunk:
    dmel = np.full((16, 80), 3, dtype=np.uint8)
    return Chunk(tick=1, t=0.2,
                 audio=(AudioBlock(0.2, np.zeros(3200, np.float32), -40.0, dmel),),
                 words=(UserWords(0.25, "run the tests"),),
                 files=(FileChanged(0.3, "a.py", "modified", diff="@@ -1 +1 @@\n-x\n+y\n"),),
                 typed=(TypedText(0.32, "hello"),),
                 self_speech=(SelfSpeech(0.2, 0.4, "the loop", interrupted=True),))


def test_v2_input_differs_from_v1_only_in_job_lines():
    chunk = full_chunk()
    for features in (True, False):
        one, two = (serialize_chunk(chunk, features=features, protocol=p) for p in (1, 2))
        assert one.text == two.text == serialize_chunk(chunk, features=features).text
        assert np.array_equal(one.audio, two.audio)


@pytest.mark.parametrize("action", [
    Action("silence"), Action("stop"), Action("speech", text="the median test fails", whole=True),
    Action("relay", job="j3"),
    Action("call", tool="tests", args={"scope": "all"},
           text='{"tool": "tests", "args": {"scope": "all"}}'),
])
def test_format_then_parse_is_the_same_action(action):
    text = format_output([action], protocol=2)
    assert text.endswith("<|end|>") and text.count("<|end|>") == 1
    (back,), ended = parse_output(text, protocol=2)
    assert ended and back == action


@pytest.mark.parametrize("text, kind, error", [
    ("hello there<|end|>", "silence", "no action token"),
    ("<|speak|><|end|>", "silence", "without words"),
    ("<|relay|>job-3<|end|>", "silence", "needs a job id"),
    ("<|call|>{\"tool\": <|end|>", "call", "not valid JSON"),
    ("<|call|>{\"tool\": \"tests\", \"args\": {}} and more<|end|>", "call", "text after"),
    ("<|silence|>oops<|end|>", "silence", "text after"),
])
def test_malformed_v2_output_is_one_harmless_action_with_the_reason(text, kind, error):
    (action,), _ = parse_output(text, protocol=2)
    assert action.kind == kind and error in action.error
    assert action.kind != "speech"  # never speaks what it cannot read


def test_v2_takes_only_the_first_action_and_empty_output_is_silence():
    (action,), ended = parse_output("<|speak|>first<|stop|><|speak|>second<|end|>", protocol=2)
    assert action.text == "first" and ended
    assert parse_output("", protocol=2) == ([Action("silence")], False)


@given(st.text(max_size=80))
def test_any_text_parses_to_exactly_one_v2_action(text):
    actions, _ = parse_output(text, protocol=2)
    assert len(actions) == 1


def test_v1_parse_and_format_are_unchanged():
    text = " you have an off-by-one<|end|>"
    assert parse_output(text) == parse_output(text, protocol=1)
    actions = [Action("call", tool="tests", args={"scope": "affected"})]
    assert format_output(actions) == \
        '<|call|>{"tool": "tests", "args": {"scope": "affected"}}<|end|>'
    # v1 never treats the v2 tokens as actions
    assert parse_output("<|relay|>j3<|end|>")[0] == [Action("speech", text="<|relay|>j3")]


@pytest.mark.parametrize("action, words", [
    (Action("speech", text=" ".join(["word"] * 25)), "1 to 24 words"),
    (Action("speech", text="see <this>"), "no '<'"),
    (Action("speech", text="a" * 21), "at most 20 characters"),
    (Action("call", tool="git_commit", args={"message": 'say "hi"'}), "without quote"),
    (Action("call", tool="lint", args={"paths": ["caf\u00e9.py"]}), "printable ASCII"),
])
def test_format_refuses_targets_the_grammar_forbids(action, words):
    with pytest.raises(ValueError, match=words):
        format_output([action], protocol=2)
