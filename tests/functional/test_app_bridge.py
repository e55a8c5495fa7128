"""The event bridge and the transcript without a screen: throttling, fps, utterances, cut-offs."""

from __future__ import annotations

import numpy as np

from companion.core.events import AudioBlock, ModelTurn, Patch, ScreenPatches, SelfSpeech, UserWords
from companion.tui.bridge import EventBridge
from companion.tui.transcript import Transcript


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class RecordingApp:
    def __init__(self) -> None:
        self.messages = []

    def post_message(self, message) -> bool:
        self.messages.append(message)
        return True


def audio(t: float, level: float) -> AudioBlock:
    return AudioBlock(t, np.zeros(3200, np.float32), level, np.zeros((16, 80), np.uint8))


def test_audio_levels_are_throttled_to_ten_per_second():
    app, clock = RecordingApp(), FakeClock()
    bridge = EventBridge(app, clock)
    for n in range(100):  # 32 blocks a second (binary-exact times); at most one per 0.1 s passes
        clock.t = n / 32
        bridge(audio(clock.t, -float(n)))
    levels = [m.level_db for m in app.messages if isinstance(m, EventBridge.Level)]
    assert levels == [-float(n) for n in range(0, 100, 4)]
    assert bridge.dropped == 75
    assert EventBridge.Level(-1.0).can_replace(EventBridge.Level(-2.0))
    assert not EventBridge.Level(-1.0).can_replace(EventBridge.ScreenRate(2.0))


def test_screen_rate_comes_from_frame_indices_once_a_second():
    app = RecordingApp()
    bridge = EventBridge(app, FakeClock())
    tile = (Patch(0, 0, np.zeros((40, 40, 3), np.uint8)),)
    for frame in range(0, 9, 2):  # only every other captured frame changed, at 2 fps capture
        bridge(ScreenPatches(frame * 0.5, frame, 100, 100, tile))
    rates = [m.fps for m in app.messages if isinstance(m, EventBridge.ScreenRate)]
    assert rates == [2.0] * 4  # one per second of stream time


def test_closed_bridge_drops_everything():
    app = RecordingApp()
    bridge = EventBridge(app)
    bridge.closed = True
    bridge(UserWords(0.0, "hello", final=True))
    assert app.messages == []


def test_utterances_split_on_pauses_and_stop():
    transcript = Transcript(t0=0.0)
    first = transcript.apply(ModelTurn(10.0, 50, "speech", "One thing:"))[0]
    more = transcript.apply(ModelTurn(10.2, 51, "speech", "the loop."))[0]
    assert first.new and not more.new and more.entry.text == "One thing: the loop."
    transcript.apply(ModelTurn(10.4, 52, "stop"))
    after_stop = transcript.apply(ModelTurn(10.6, 53, "speech", "Also"))[0]
    assert after_stop.new
    after_pause = transcript.apply(ModelTurn(20.0, 100, "speech", "Later."))[0]
    assert after_pause.new and after_pause.entry.kind == "interjection"


def test_voice_without_model_text_and_cut_off_from_planned_words():
    transcript = Transcript(t0=0.0)
    spoken = transcript.apply(SelfSpeech(1.0, 1.4, "Heads up"))[0].entry
    transcript.apply(SelfSpeech(1.4, 1.8, "the test"))
    assert spoken.text == "Heads up the test" and spoken.spoken_words == 4
    planned = transcript.apply(ModelTurn(5.0, 25, "speech", "You dropped the last element here."))
    entry = planned[0].entry
    transcript.apply(SelfSpeech(5.0, 5.5, "You dropped", interrupted=True))
    assert entry.cut and entry.text == "You dropped"
    assert entry.unspoken == "the last element here."


def test_an_answer_after_the_users_line_is_a_new_entry_below_it():
    """A new user saw the answer to a typed "run the linter" appended to the remark that was
    still playing when they typed it, above their own line."""
    transcript = Transcript(t0=0.0)
    remark = transcript.apply(SelfSpeech(41.0, 41.8, "one new lint finding in"))[0].entry
    transcript.apply(SelfSpeech(41.9, 42.6, "stats.py print found at"))
    transcript.typed(43.0, "run the linter")
    transcript.apply(SelfSpeech(42.7, 43.2, "stats.py line 2"))  # the remark's tail, reported late
    assert remark.text == "one new lint finding in stats.py print found at stats.py line 2"
    transcript.apply(ModelTurn(44.0, 220, "relay", "j2"))
    answer = transcript.apply(SelfSpeech(44.1, 45.0, "one lint finding in stats.py"))
    assert answer[0].new and answer[0].entry.text == "one lint finding in stats.py"
    assert answer[0].entry.kind == "companion" and remark.text.endswith("line 2")
    # without a user line in between, a relay right after a remark is still its own utterance
    # only after a pause (as before): the model's turns alone do not split an utterance
    quiet = Transcript(t0=0.0)
    first = quiet.apply(SelfSpeech(1.0, 1.5, "tests failed"))[0].entry
    quiet.apply(ModelTurn(1.6, 8, "relay", "j1"))
    assert not quiet.apply(SelfSpeech(1.7, 2.0, "again"))[0].new and first.text == "tests failed again"


def test_partial_words_update_one_entry_until_final():
    transcript = Transcript(t0=0.0)
    a = transcript.apply(UserWords(1.0, "so"))[0]
    b = transcript.apply(UserWords(1.2, "so the"))[0]
    c = transcript.apply(UserWords(1.4, "so the test", final=True))[0]
    assert a.new and not b.new and not c.new and c.entry.final and c.entry.text == "so the test"
    assert transcript.apply(UserWords(3.0, "next"))[0].new
