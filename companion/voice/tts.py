"""Offline text-to-speech: libespeak-ng (shipped by espeakng-loader) driven through ctypes.

espeak-ng runs in synchronous mode: `espeak_Synth` calls our callback with int16 PCM at 22050 Hz
and with WORD / END events, from which we get each word's sample span. The library is one global
state machine and is not re-entrant, so every call goes through one process-wide lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from companion.audio.resample import resample

_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED = 0, 1, 5, 6
_AUDIBLE = 0.01  # about -40 dBFS: below it a word's tail is pause, not speech
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH = 1, 2, 3


class TTSUnavailable(RuntimeError):
    """The TTS engine could not be loaded or initialized; the message says why."""


class _EspeakEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character position in the text
        ("length", ctypes.c_int),  # characters in the word
        ("audio_position", ctypes.c_int),  # ms since the start of the synthesis
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # a union (number / name / string); unused here
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent)
)


@dataclass(frozen=True, slots=True)
class WordSpan:
    """One word of a synthesis: its text and its sample span [start, end) in the output."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class Synthesis:
    """A synthesized phrase: float32 mono samples at `sample_rate` and where each word is."""

    samples: np.ndarray
    sample_rate: int
    words: tuple[WordSpan, ...]


class _Espeak:
    """The loaded library (one per process) and the lock that serializes every call into it."""

    lock = threading.Lock()
    lib: ctypes.CDLL | None = None
    native_rate = 0

    @classmethod
    def load(cls) -> ctypes.CDLL:
        with cls.lock:
            if cls.lib is not None:
                return cls.lib
            try:
                import espeakng_loader

                lib = ctypes.CDLL(espeakng_loader.get_library_path())
                data = espeakng_loader.get_data_path()
            except (ImportError, OSError, RuntimeError) as exc:
                raise TTSUnavailable(f"espeak-ng could not be loaded: {exc}") from exc
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [
                ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
            ]
            rate = lib.espeak_Initialize(_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
            if rate <= 0:
                raise TTSUnavailable(f"espeak_Initialize failed (returned {rate}) with data at {data}")
            cls.lib, cls.native_rate = lib, rate
            return lib


DEFAULT_VOICE = "en-us"  # the companion's own voice unless the rules file names another


class EspeakVoice:
    """Synthesizes text to float32 PCM at `sample_rate` with per-word sample spans."""

    def __init__(self, voice: str = DEFAULT_VOICE, rate: int = 175, pitch: int = 50,
                 sample_rate: int = 16_000) -> None:
        if not 80 <= rate <= 450:
            raise ValueError(f"rate {rate} words/minute is outside espeak-ng's 80..450")
        if not 0 <= pitch <= 100:
            raise ValueError(f"pitch {pitch} is outside 0..100")
        self.voice, self.rate, self.pitch, self.sample_rate = voice, rate, pitch, sample_rate
        self._lib = _Espeak.load()
        with _Espeak.lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice named {voice!r} (try 'en-us', 'en', 'en-gb')")

    def synthesize(self, text: str) -> Synthesis:
        """The phrase `text` as audio; an empty or blank text gives zero samples and no words."""
        if not text.strip():
            return Synthesis(np.zeros(0, np.float32), self.sample_rate, ())
        pcm: list[np.ndarray] = []
        marks: list[tuple[int, int, int, int]] = []  # (type, char position, length, ms)

        def on_audio(wav, n, events):  # runs inside espeak_Synth, on this thread
            if n > 0:
                pcm.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                e = events[i]
                marks.append((e.type, e.text_position, e.length, e.audio_position))
                i += 1
            return 0

        callback = _CALLBACK(on_audio)  # kept alive for the duration of the call
        data = text.encode("utf-8") + b"\0"
        with _Espeak.lock:
            lib = self._lib
            lib.espeak_SetSynthCallback(callback)
            lib.espeak_SetVoiceByName(self.voice.encode())
            lib.espeak_SetParameter(_PARAM_RATE, self.rate, 0)
            lib.espeak_SetParameter(_PARAM_PITCH, self.pitch, 0)
            status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status} for {text[:40]!r}")
        native = np.concatenate(pcm).astype(np.float32) / 32768.0 if pcm else np.zeros(0, np.float32)
        samples = resample(native, _Espeak.native_rate, self.sample_rate)
        return Synthesis(samples, self.sample_rate, _word_spans(text, marks, samples, self.sample_rate))


def _word_spans(text: str, marks: list[tuple[int, int, int, int]],
                samples: np.ndarray, sr: int) -> tuple[WordSpan, ...]:
    """Each WORD event starts a word; it ends where the next word or the clause (END event) starts,
    less the pause after it (a word is "played" once its last audible sample is played). The
    silence before a word is trimmed too, so a word's span is when it can be heard (espeak-ng
    opens each synthesis with ~70 ms of silence, which put `said` times early)."""
    spans = _raw_spans(text, marks, len(samples), sr)
    audible = np.abs(samples) > _AUDIBLE
    trimmed = []
    for w in spans:
        loud = np.flatnonzero(audible[w.start:w.end])
        start = w.start + int(loud[0]) if len(loud) else w.start
        end = w.start + int(loud[-1]) + 1 if len(loud) else w.end
        trimmed.append(WordSpan(w.text, start, end))
    return tuple(trimmed)


def _one_event_per_word(text: str, marks: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """`marks` without the WORD events that continue the previous word (no space between them):
    espeak-ng speaks "3.0" as "three point zero" and "stats.py" as "stats dot py", with an event
    for each part, which made the words "3 .0 .0" and "stats . py" in the transcript and in the
    SelfSpeech the model and the echo check read. A word's audio is all its parts'."""
    kept: list[tuple[int, int, int, int]] = []
    start: int | None = None  # text position of the last word kept
    for mark in marks:
        kind, pos, _, _ = mark
        if kind == _EVENT_WORD:
            if start is not None and pos >= start and not any(ch.isspace() for ch in text[start - 1:pos - 1]):
                continue
            start = pos
        kept.append(mark)
    return kept


def _raw_spans(text: str, marks: list[tuple[int, int, int, int]], n: int, sr: int) -> list[WordSpan]:
    spans: list[WordSpan] = []
    open_word: tuple[str, int] | None = None
    marks = _one_event_per_word(text, marks)
    for kind, pos, length, ms in marks:
        at = min(n, round(ms * sr / 1000))
        if kind in (_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED) and open_word is not None:
            spans.append(WordSpan(open_word[0], open_word[1], max(at, open_word[1])))
            open_word = None
        if kind == _EVENT_WORD:
            # The word runs to the next word event: espeak-ng sometimes reports two short words
            # ("of the") as one event, and the text between events must not be lost.
            following = [p for k, p, _, _ in marks if k == _EVENT_WORD and p > pos]
            end = following[0] - 1 if following else len(text)
            open_word = (text[pos - 1:end].strip() or text[pos - 1:pos - 1 + length], at)
    if open_word is not None:
        spans.append(WordSpan(open_word[0], open_word[1], n))
    return spans
