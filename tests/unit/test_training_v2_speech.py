"""The v2 generator's user words are the live recognizer's: Whisper tiny.en through
companion.voice.asr with the live repository prompt. The generator's finals equal `transcribe` of
the same audio, and the cache key names the recognizer, so another recognizer's words are never
reused."""

from __future__ import annotations

from companion.voice.asr import transcribe
from companion.voice.vocabulary import TOOL_WORDS
from model_server.training.v2 import speech


def test_generated_words_are_the_live_recognizers(tmp_path):
    voice, text, level = ("espeak-ng", "en-us"), "show me the last five commits", -22.0
    utt = speech.utterance(voice, text, level, cache=tmp_path)
    prompt = speech.prompt_for(voice, text)
    assert prompt.startswith(", ".join(TOOL_WORDS))  # the live repository_prompt's glossary
    mic = speech.mic_of(utt.samples, speech.cache_key(voice, text, level))
    live = transcribe(mic, 16_000, prompt=prompt)
    finals = [words for _, words, final in utt.heard if final]
    assert live and finals == [" ".join(w.text for w in live)]
    assert any(not final for _, _, final in utt.heard)  # the live partials are there too
    again = speech.utterance(voice, text, level, cache=tmp_path)  # read back from the cache
    assert again.heard == utt.heard


def test_speech_cache_key_names_the_recognizer(monkeypatch):
    voice, text = ("espeak-ng", "en-us"), "run the tests"
    key = speech.cache_key(voice, text, -22.0)
    monkeypatch.setattr(speech, "RECOGNIZER", "pocketsphinx")
    assert speech.cache_key(voice, text, -22.0) != key
    monkeypatch.undo()
    speech.recognizer_version.cache_clear()
    monkeypatch.setattr(speech, "RECOGNIZER_CODE", ("companion.voice.asr",))
    assert speech.cache_key(voice, text, -22.0) != key
    speech.recognizer_version.cache_clear()


def test_speech_cache_key_names_the_recognizers_weights(monkeypatch, tmp_path):
    """Fine-tuned recognizer weights hear differently: their words are never reused for others'."""
    from companion.voice import tuned_weights

    voice, text = ("espeak-ng", "en-us"), "run the tests"
    speech.recognizer_version.cache_clear()
    key = speech.cache_key(voice, text, -22.0)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"other weights")
    monkeypatch.setattr(tuned_weights, "TUNED_FILE", other)
    speech.recognizer_version.cache_clear()
    assert speech.cache_key(voice, text, -22.0) != key
    speech.recognizer_version.cache_clear()
