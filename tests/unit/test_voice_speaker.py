"""Speaker without an output device: text-only mode, phrases as displayed SelfSpeech, stop and mute."""

import threading
import time

from companion.core.events import SelfSpeech, StreamState
from companion.voice.speaker import Speaker


def _collect():
    events, lock = [], threading.Lock()

    def sink(e):
        with lock:
            events.append(e)

    return events, sink


def _wait_for(events, predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(list(events)):
            return
        time.sleep(0.01)
    raise AssertionError(f"condition not met; events: {events}")


def test_no_output_device_gives_text_only_with_the_reason():
    events, sink = _collect()
    speaker = Speaker(sink, device="no-such-output-xyz")
    speaker.start()
    try:
        state = events[0]
        assert isinstance(state, StreamState) and state.stream == "speaker"
        assert state.status == "unavailable" and "no-such-output-xyz" in state.reason
        assert speaker.text_only
        speaker.say("The test in tests/unit/test_parse.py failed. ")
        speaker.say("Shall I run it again?")
        _wait_for(events, lambda es: sum(isinstance(e, SelfSpeech) for e in es) == 2)
        said = [e for e in events if isinstance(e, SelfSpeech)]
        assert [e.text for e in said] == ["The test in test parse dot py failed.",
                                          "Shall I run it again?"]
        assert all(e.t == e.t_end and not e.interrupted for e in said)
    finally:
        speaker.close()


def test_fragments_are_joined_into_one_phrase_until_a_pause():
    events, sink = _collect()
    speaker = Speaker(sink, device="no-such-output-xyz", phrase_wait=0.1)
    speaker.start()
    try:
        for word in ["you ", "have ", "an ", "off ", "by ", "one"]:
            speaker.say(word)
        _wait_for(events, lambda es: any(isinstance(e, SelfSpeech) for e in es))
        time.sleep(0.2)
        said = [e.text for e in events if isinstance(e, SelfSpeech)]
        assert said == ["you have an off by one"]
    finally:
        speaker.close()


def test_stop_with_nothing_playing_reports_the_dropped_text():
    events, sink = _collect()
    speaker = Speaker(sink, device="no-such-output-xyz", phrase_wait=5.0)
    speaker.start()
    try:
        speaker.say("this will never be said")
        speaker.stop()
        cut = [e for e in events if isinstance(e, SelfSpeech)]
        assert len(cut) == 1 and cut[0].interrupted and cut[0].text == ""
        assert cut[0].unspoken == "this will never be said"
        time.sleep(0.1)
        assert not speaker.speaking
    finally:
        speaker.close()


def test_mute_and_unmute_are_visible_states():
    events, sink = _collect()
    speaker = Speaker(sink, device="no-such-output-xyz")
    speaker.start()
    speaker.mute()
    speaker.unmute()
    speaker.close()
    states = [(e.status, e.reason.split(":")[0]) for e in events if isinstance(e, StreamState)]
    assert states == [("unavailable", "text-only"), ("paused", "muted"),
                      ("unavailable", "text-only"), ("stopped", "closed")]
