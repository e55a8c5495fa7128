"""The recognizer's fine-tuning data never speaks a benchmark's voice or phrase, and is reproducible."""

import itertools
import random

import numpy as np

from benchmarks.hearing.phrases import PHRASES
from benchmarks.heldout import HELD_OUT_VOICES
from model_server.training.asr import speech_data
from model_server.training.asr.clips import make_clip, noise, project_prompt
from model_server.training.asr.speech_data import Voice, texts, training_voices, written_form


def test_no_training_voice_is_held_out_or_has_a_held_out_variant_or_regional_accent():
    """Held-out espeak-ng voices are en-us+f4 and en-gb-scotland+m3: neither variant is used with
    any accent, and the Scottish accent is not used at all (plain en-us is every voice's base)."""
    voices = training_voices()
    assert len(voices) > 100
    held_accents = {n.partition("+")[0] for e, n in HELD_OUT_VOICES if e == "espeak-ng"} - {"en-us"}
    held_variants = {n.partition("+")[2] for e, n in HELD_OUT_VOICES if e == "espeak-ng"}
    for engine, name in voices:
        assert (engine, name) not in HELD_OUT_VOICES
        if engine == "espeak-ng":
            accent, _, variant = name.partition("+")
            assert accent not in held_accents and variant not in held_variants, name


def test_the_companions_own_voice_is_not_a_training_voice():
    """The recognizer must not learn to hear best the voice whose echo it has to ignore."""
    from companion.voice.tts import EspeakVoice

    own = EspeakVoice().voice
    assert ("espeak-ng", own) not in training_voices()
    assert any(name.startswith(own + "+") for _, name in training_voices())  # its accent's variants stay


def test_a_held_out_accent_in_the_voice_list_is_refused(monkeypatch):
    monkeypatch.setattr(speech_data, "ESPEAK_ACCENTS", ("en-us", "en-gb-scotland"))
    try:
        training_voices()
    except AssertionError as exc:
        assert "en-gb-scotland" in str(exc)
    else:
        raise AssertionError("a held-out accent was accepted")


def test_texts_never_say_a_benchmark_phrase_and_are_reproducible():
    benchmark = {speech_data._norm(p) for p in PHRASES}
    drawn = texts(random.Random(5), 3000)
    assert drawn == texts(random.Random(5), 3000)
    assert not {speech_data._norm(said) for said, _ in drawn} & benchmark
    kinds = {"coding": 0, "other": 0}
    for said, written in drawn:
        kinds["coding" if "_" in written or ".py" in written else "other"] += 1
        assert written[-1] in ".?"
    assert kinds["coding"] > 600 and kinds["other"] > 1000


def test_written_form_keeps_identifiers_and_marks_questions():
    assert written_form("what changed in heapq.py") == "What changed in heapq.py?"
    assert written_form("get_unpack_formats breaks") == "get_unpack_formats breaks."


def test_a_clip_is_the_utterance_in_a_room_and_the_prompt_names_what_is_said():
    x, words = make_clip("run the tests", Voice("espeak-ng", "en-us+m1"), seed=3)
    assert x.dtype == np.float32 and 0.5 < len(x) / 16000 < 4 and np.max(np.abs(x)) <= 1
    assert len(words) == 3 and 0.1 <= words[0][0] and words[-1][1] <= len(x) / 16000
    assert all(a < b <= c for (a, b), (c, _) in itertools.pairwise(words))
    again, _ = make_clip("run the tests", Voice("espeak-ng", "en-us+m1"), seed=3)
    assert abs(len(again) - len(x)) < 0.05 * len(x)  # espeak-ng's library varies a little run to run
    _, none = make_clip("run the tests", Voice("flite", "kal"), seed=3)
    assert none is None  # flite gives no word times
    n = noise(16000, np.random.default_rng(1))
    assert abs(float(np.std(n)) - 1) < 1e-3
    prompts = [project_prompt("Run test_heappush_max.", random.Random(i)) for i in range(40)]
    assert all(p.startswith("pytest, ruff") for p in prompts)
    assert sum("heappush_max" in p for p in prompts) >= 25
