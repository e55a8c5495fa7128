"""espeak-ng through ctypes: audio, word spans in order, voice options and their errors."""

import threading

import numpy as np
import pytest

from companion.voice.tts import EspeakVoice


@pytest.fixture(scope="module")
def voice():
    return EspeakVoice()


def test_words_come_back_in_order_with_increasing_spans(voice):
    text = "The test in parse header failed twice."
    s = voice.synthesize(text)
    assert s.sample_rate == 16000 and s.samples.dtype == np.float32
    assert [w.text.strip(".") for w in s.words] == ["The", "test", "in", "parse", "header", "failed",
                                                   "twice"]
    for a, b in zip(s.words, s.words[1:]):
        assert a.start < a.end <= b.start
    assert s.words[-1].end <= len(s.samples)
    for w in s.words:  # each span holds audible speech
        assert np.abs(s.samples[w.start:w.end]).max() > 0.05


def test_a_word_spoken_in_parts_is_one_word(voice):
    """espeak-ng reports "3.0" as three word events ("three point zero") and "stats.py" as three
    ("stats dot py"): the transcript showed "3 .0 .0" and "stats . py"."""
    s = voice.synthesize("median returns 3.0, expected 2.5 at stats.py line 14")
    assert [w.text for w in s.words] == ["median", "returns", "3.0,", "expected", "2.5", "at",
                                         "stats.py", "line", "14"]
    three = s.words[2]
    assert (three.end - three.start) / s.sample_rate > 0.5  # "three point zero", all of it


def test_rate_changes_duration_and_sample_rate_is_honoured():
    slow = EspeakVoice(rate=100).synthesize("one two three four")
    fast = EspeakVoice(rate=300).synthesize("one two three four")
    assert len(slow.samples) > 1.8 * len(fast.samples)
    hi = EspeakVoice(sample_rate=48000).synthesize("one two three four")
    assert len(hi.samples) == pytest.approx(3 * len(EspeakVoice(rate=175).synthesize(
        "one two three four").samples), rel=0.01)


def test_blank_text_is_no_audio(voice):
    s = voice.synthesize("   ")
    assert len(s.samples) == 0 and s.words == ()


def test_concurrent_calls_are_serialized_and_complete(voice):
    # espeak-ng carries a little state from call to call (a few samples differ), so compare the
    # words and the length; interleaved calls would mix two phrases' audio and events.
    results = []
    threads = [threading.Thread(target=lambda: results.append(voice.synthesize("hello there")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for r in results:
        assert [w.text for w in r.words] == ["hello", "there"]
        assert len(r.samples) == pytest.approx(len(results[0].samples), abs=16)


@pytest.mark.parametrize("kwargs, message", [
    ({"voice": "xx-nope"}, "no voice named 'xx-nope'"),
    ({"rate": 20}, "outside espeak-ng's 80..450"),
    ({"pitch": 300}, "outside 0..100"),
])
def test_bad_options_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EspeakVoice(**kwargs)
