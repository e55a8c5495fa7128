"""The token protocol: serialization of chunks, caps and overflow, and the output parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    Patch,
    ScreenPatches,
    SelfSpeech,
    TypedText,
    UserWords,
)
from companion.core.protocol import (
    SPECIAL_TOKENS,
    Action,
    Chunk,
    ChunkCaps,
    format_output,
    parse_output,
    serialize_chunk,
    system_prefix,
)


def audio_block(t: float, level: int = 3) -> AudioBlock:
    dmel = np.full((16, 80), level, dtype=np.uint8)
    dmel[:, 0] = np.arange(16)
    return AudioBlock(t=t, samples=np.zeros(3200, np.float32), level=-40.0, dmel=dmel)


def test_empty_chunk_is_time_and_out_only():
    out = serialize_chunk(Chunk(tick=62, t=12.4), features=True)
    assert out.text == "<|t|>12.4<|out|>"
    assert out.audio.shape == (0, 320) and out.patches == []


def test_parts_come_in_protocol_order_with_features():
    patch = Patch(x=40, y=80, pixels=np.zeros((40, 40, 3), np.uint8))
    chunk = Chunk(
        tick=1, t=0.2,
        audio=(audio_block(0.2),),
        words=(UserWords(0.25, "run the tests"),),
        screen=(ScreenPatches(0.3, frame=1, width=1920, height=1080, patches=(patch,)),),
        files=(FileChanged(0.3, "src/a.py", "modified", diff="@@ -1 +1 @@\n-x = 1\n+x = 2\n"),),
        jobs=(JobEvent(0.31, "j1", "tests", "result", summary="all 3 tests pass", data={"passed": 3}),),
        typed=(TypedText(0.32, "hello"),),
        self_speech=(SelfSpeech(0.2, 0.4, "the loop", interrupted=True),),
    )
    out = serialize_chunk(chunk, features=True)
    order = [out.text.index(tag) for tag in
             ("<|t|>", "<|hear|>", "<|see|>", "<|file|>", "<|tool|>", "<|user|>", "<|self|>", "<|out|>")]
    assert order == sorted(order)
    assert out.text.count("<|audio|>") == 4 == len(out.audio)
    assert out.text.count("<|patch|>") == 1 and out.patches == [patch]
    assert "run the tests" in out.text and "<|cut|>" in out.text
    # four stacked frames per audio token, in frame order
    assert out.audio[1, :80].tolist() == [4] + [3] * 79


def test_text_mode_has_no_placeholders():
    chunk = Chunk(tick=0, t=0.0, audio=(audio_block(0.0),), words=(UserWords(0.1, "hi"),))
    out = serialize_chunk(chunk, features=False)
    assert "<|audio|>" not in out.text and out.text == "<|t|>0.0<|hear|>hi<|out|>"


def test_large_diff_is_summarized_not_dropped():
    diff = "@@ -1,400 +1,400 @@\n" + "".join(f"-old line {i}\n+new line {i}\n" for i in range(400))
    chunk = Chunk(tick=0, t=0.0, files=(FileChanged(0.0, "big.py", "modified", diff=diff),))
    out = serialize_chunk(chunk, features=False, caps=ChunkCaps())
    assert out.summarized == 1
    assert "<|more|>diff too large: +400 -400 lines in 1 hunks" in out.text
    assert "big.py" in out.text


def test_patch_cap_keeps_newest_tile_per_place_and_marks_the_rest():
    tiles = tuple(Patch(x=40 * i, y=0, pixels=np.zeros((40, 40, 3), np.uint8)) for i in range(40))
    newer = Patch(x=0, y=0, pixels=np.ones((40, 40, 3), np.uint8))
    chunk = Chunk(tick=0, t=0.0, screen=(ScreenPatches(0.0, 0, 1920, 1080, tiles),
                                         ScreenPatches(0.1, 1, 1920, 1080, (newer,))))
    out = serialize_chunk(chunk, features=True, caps=ChunkCaps(max_patches=32))
    assert len(out.patches) == 32 and out.patches[0] is newer
    assert "<|more|>40" in out.text and out.summarized == 1


def test_secrets_are_redacted_before_serialization():
    chunk = Chunk(tick=0, t=0.0,
                  files=(FileChanged(0.0, "cfg.py", "modified", diff="+API_KEY = 'abcd1234secret'\n"),
                         FileChanged(0.0, ".env", "modified", diff="+DB_URL=postgres://u:p@h/db\n")),
                  typed=(TypedText(0.0, "my token is ghp_" + "x" * 36),))
    text = serialize_chunk(chunk, features=False).text
    assert "abcd1234secret" not in text and "ghp_" not in text and "postgres://u:p" not in text
    assert text.count("[REDACTED]") == 3


def test_job_result_serializes_summary_and_compact_json():
    job = JobEvent(1.0, "j7", "tests", "result", summary="test_header failed",
                   data={"failures": [{"test_id": "t::test_header", "line": 42}]})
    text = serialize_chunk(Chunk(tick=5, t=1.0, jobs=(job,)), features=False).text
    assert '<|tool|>tests result: test_header failed {"failures":[{"line":42' in text


def test_system_prefix_is_pinned_and_closed():
    text = system_prefix("You are a companion.", "Interrupt me for off-by-one errors.", "tests: run")
    assert text.startswith("<|system|>") and text.endswith("<|end|>")


@pytest.mark.parametrize("text, kinds, ended", [
    ("<|silence|><|end|>", ["silence"], True),
    (" you have an off-by-one<|end|>", ["speech"], True),
    ("<|stop|><|end|>", ["stop"], True),
    ('<|call|>{"tool": "tests", "args": {}}<|end|>', ["call"], True),
    (" still talking", ["speech"], False),
    ("", ["silence"], False),
    ("word<|t|>3.0<|hear|>", ["speech"], True),
])
def test_parse_output(text, kinds, ended):
    actions, was_ended = parse_output(text)
    assert [a.kind for a in actions] == kinds and was_ended == ended


def test_bad_call_json_is_an_error_action_not_an_exception():
    (action,), _ = parse_output("<|call|>{tool: tests<|end|>")
    assert action.kind == "call" and "not valid JSON" in action.error
    (action,), _ = parse_output('<|call|>["tests"]<|end|>')
    assert "must be" in action.error


speech_text = st.text(alphabet=st.characters(blacklist_characters="<|>"), min_size=1).filter(str.strip)
tool_calls = st.builds(lambda tool, n: Action("call", tool=tool, args={"n": n}),
                       st.sampled_from(["tests", "lint", "git_status"]), st.integers(0, 99))


@given(st.lists(st.one_of(speech_text.map(lambda s: Action("speech", text=s)),
                          st.just(Action("silence")), st.just(Action("stop")), tool_calls),
                min_size=1, max_size=5))
def test_format_then_parse_round_trips(actions):
    # adjacent speech fragments merge into one when written out; compare on that normal form
    normal: list[Action] = []
    for a in actions:
        if a.kind == "speech" and normal and normal[-1].kind == "speech":
            normal[-1] = Action("speech", text=normal[-1].text + a.text)
        else:
            normal.append(a)
    parsed, ended = parse_output(format_output(actions))
    assert ended
    assert [(a.kind, a.text if a.kind == "speech" else "", a.tool, a.args) for a in parsed] == \
        [(a.kind, a.text if a.kind == "speech" else "", a.tool, a.args) for a in normal]


def test_special_tokens_are_unique_and_documented():
    assert len(set(SPECIAL_TOKENS)) == len(SPECIAL_TOKENS)
    doc = open("docs/protocol.md", encoding="utf-8").read().replace("\\|", "|")
    assert all(tok in doc for tok in SPECIAL_TOKENS)
    assert json.loads(parse_output('<|call|>{"tool": "x", "args": {"a": 1}}')[0][0].text)["args"] == {"a": 1}
