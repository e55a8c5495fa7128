"""Record and replay: what is written comes back, and replay gives the same chunks every time."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    Patch,
    ScreenPatches,
    SelfSpeech,
    StreamState,
    TypedText,
    UserWords,
)
from companion.record.recorder import Recorder, RecordingError, read_recording
from companion.record.replay import chunk_record, replay_chunks


def sample_events(t0: float) -> list:
    rng = np.random.default_rng(0)
    out = []
    for i in range(10):
        out.append(AudioBlock(t0 + 0.2 * i, rng.uniform(-0.5, 0.5, 3200).astype(np.float32), -20.0 - i,
                              rng.integers(0, 16, (16, 80), dtype=np.uint8)))
    tiles = tuple(Patch(40 * k, 80, rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)) for k in range(3))
    out += [
        ScreenPatches(t0 + 0.33, 1, 1920, 1080, tiles),
        FileChanged(t0 + 0.5, "src/a.py", "modified", diff="@@ -1 +1 @@\n-a\n+b\n"),
        UserWords(t0 + 0.7, "run the tests", final=True),
        TypedText(t0 + 0.9, "hello"),
        JobEvent(t0 + 1.1, "j1", "tests", "result", "all pass", {"passed": 2}),
        SelfSpeech(t0 + 1.25, t0 + 1.5, "the loop", interrupted=True, unspoken="ends early"),
        StreamState(t0 + 1.3, "screen", "paused"),
    ]
    return sorted(out, key=lambda e: e.t)


@pytest.fixture
def recording(tmp_path):
    rec = Recorder(tmp_path / "rec", t0=500.0)
    for event in sample_events(500.0):
        rec.put(event)
    rec.close()
    return tmp_path / "rec"


def test_events_come_back_as_recorded(recording):
    original = sample_events(0.0)
    back = list(read_recording(recording))
    assert [type(e) for e in back] == [type(e) for e in original]
    for a, b in zip(original, back):
        assert b.t == pytest.approx(a.t, abs=1e-6)
        if isinstance(a, AudioBlock):
            assert np.abs(a.samples - b.samples).max() < 1 / 16000 and (a.dmel == b.dmel).all()
        elif isinstance(a, ScreenPatches):
            assert [(p.x, p.y) for p in a.patches] == [(p.x, p.y) for p in b.patches]
            assert all((p.pixels == q.pixels).all() for p, q in zip(a.patches, b.patches))
        else:
            assert a == b


def test_replay_is_deterministic_and_complete(recording):
    async def run():
        return [json.dumps(chunk_record(c, s)) async for c, s in replay_chunks(recording)]
    first, second = asyncio.run(run()), asyncio.run(run())
    assert first == second
    lines = [json.loads(x) for x in first]
    assert len(lines) == 10  # windows 0..9 cover the last audio block at 1.8 s
    assert lines[0]["counts"]["audio"] == 1 and lines[0]["audio_tokens"] == 4
    assert lines[1]["patches"] == 3
    assert "run the tests" in lines[3]["text"] and "<|cut|>" in lines[6]["text"]


def test_replay_at_real_time_gives_the_same_chunks(recording):
    async def run(realtime):
        return [chunk_record(c, s)["text"] async for c, s in replay_chunks(recording, realtime=realtime)]
    assert asyncio.run(run(True)) == asyncio.run(run(False))


def test_recording_refuses_to_overwrite_and_reports_bad_files(recording, tmp_path):
    with pytest.raises(RecordingError, match="already holds a recording"):
        Recorder(recording, t0=0.0)
    with pytest.raises(RecordingError, match="events.jsonl is missing"):
        list(read_recording(tmp_path / "nothing"))
    (recording / "events.jsonl").write_text('{"type": "TypedText", "t": 0.1, "text": "ok"}\n{broken\n')
    with pytest.raises(RecordingError, match=r"events.jsonl:2: unreadable event"):
        list(read_recording(recording))


def test_tiles_and_positions_that_disagree_are_an_error_not_truncated(recording):
    import numpy as np
    patch_file = next((recording / "patches").glob("*.npz"))
    np.savez_compressed(patch_file, xy=np.zeros((2, 2), np.int32), pixels=np.zeros((3, 40, 40, 3), np.uint8))
    with pytest.raises(RecordingError, match="unreadable event"):
        list(read_recording(recording))
