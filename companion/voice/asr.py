"""SpeechRecognizer: streaming Whisper tiny.en words from 200 ms AudioBlocks, gated by Silero VAD; `transcribe`.

Live: `SpeechRecognizer(sink).feed(block)` on one thread (never the audio thread). The VoiceActivityGate
(Silero VAD) opens an utterance window 0.2 s before speech starts; while it is open the window
is re-decoded every `partial_interval` (0.4 s) and a changed hypothesis is emitted as a partial
UserWords; 0.12 s of non-speech closes it with one final decode (with word times) emitted as a
final UserWords. A block that ends quiet inside an open window is decoded at once, as a partial:
when the gate then closes with no speech after it, that decode becomes the final (only its word
times are computed), so the final costs no second decode and comes out a block sooner. A window
longer than `max_window` (8 s) is finalized and a new one begun, so a monologue never makes a
decode slower. The gate only decides when decoding runs, never
turn-taking. Decodes whose no-speech probability, log-probability or compression ratio say
"not speech" emit nothing (Whisper invents words in noise otherwise), and so do hypotheses made
mostly of words the companion itself played meanwhile (`companion_said`, see own_words.py).

Offline (the training-data generator; same engine, gate and settings as live):

    from companion.voice.asr import transcribe, Word
    words: list[Word] = transcribe(pcm, sample_rate, prompt="")
    # Word(text, start, end, probability): seconds from the first sample of `pcm`

`pcm` is mono float (-1..1) at any rate (resampled to 16 kHz); the audio is fed through the
same SpeechRecognizer in 200 ms blocks, only without partials (which never change finals);
calls from several threads take turns on one shared engine (loaded once, about a second).
Without faster-whisper or its weights, `transcribe` raises EngineUnavailable and the live
recognizer reports "hearing unavailable (reason)" as its StreamState.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from companion.audio.resample import resample
from companion.core.events import AudioBlock, Event, SelfSpeech, StreamState, UserWords
from companion.voice.own_words import OwnWords
from companion.voice.vad import VoiceActivityGate
from companion.voice.whisper_engine import Decoding, EngineUnavailable, WhisperEngine, Word

__all__ = ["EngineUnavailable", "SpeechRecognizer", "Word", "plausible", "transcribe"]

RATE = 16_000
BLOCK = 3200
PREROLL = int(0.2 * RATE)  # speech onsets are soft; the gate fires a frame or two late
TAIL = int(0.16 * RATE)
# A decode can stand in for the final when at least this much non-speech followed the speech in
# its window (the last word's release must be in it); a block ending this quiet is decoded at once.
# One Silero VAD frame, 32 ms (at 64 ms fewer blocks qualify: median final 0.35 s, not 0.33 s).
REUSE_TAIL = 512
# The Speaker reports a played word up to one micro-turn after its last sample (SpeechLedger),
# so a final heard while the companion speaks waits this long past its window for the report
# of what was playing then, and is judged against it (own_words.py).
HOLD_S = 0.45


class HeldFinal(NamedTuple):
    """A final decided while the companion spoke, waiting for the report of what it played."""

    start: float  # the utterance window, in stream time
    end: float
    text: str
    avg_logprob: float
    words: list[Word]  # times from `start`
    block_t: float  # the block that decided it (the UserWords time)


LOOP_WORDS = 4  # one word this many times over is Whisper looping, not speech ("no no no" is)


def _key(word: str) -> str:
    """A word as loops repeat it: lower case, letters and digits only ("In?" and "in" agree)."""
    return "".join(ch for ch in word.lower() if ch.isalnum())


def _one_word_loop(text: str) -> bool:
    """"In? In? In? In? In?": one word over and over, too short for the compression ratio to see
    (heard on a loaded machine whose audio dropped blocks)."""
    words = [_key(w) for w in text.split()]
    return len(words) >= LOOP_WORDS and len(set(words)) == 1


def plausible(d: Decoding) -> bool:
    """Whether a decode is speech rather than a hallucination on noise, echo or silence."""
    if d.empty or d.compression_ratio > 2.4 or _one_word_loop(d.text):
        return False
    if d.no_speech_prob > 0.6 and d.avg_logprob < -0.7:
        return False
    return d.avg_logprob > -1.2


def _merge_punctuation(words: tuple[Word, ...]) -> list[Word]:
    """Whisper aligns "." and "?" as words of their own; they belong to the word before."""
    out: list[Word] = []
    for w in words:
        if out and not any(ch.isalnum() for ch in w.text):
            last = out[-1]
            out[-1] = Word(last.text + w.text, last.start, max(last.end, w.end), last.probability)
        elif any(ch.isalnum() for ch in w.text):
            out.append(w)
    return out


def _undouble(words: list[Word]) -> list[Word]:
    """A final that is one phrase said over and over ("run the face, run the face, run the
    face") is Whisper looping on a short window: keep the phrase once."""
    n = len(words)
    key = [_key(w.text) for w in words]
    for period in range(2, n // 2 + 1):  # the loop may stop part way into another round
        if all(key[i] == key[i % period] for i in range(n)):
            return words[:period]
    return words


def _tighten(words: list[Word], pcm: np.ndarray) -> list[Word]:
    """Whisper's alignment lets a word run on into the pause after it (and start in the one
    before): trim each span to its 10 ms frames within 40 dB of the window's loudest frame."""
    n = len(pcm) // 160
    if not n or not words:
        return words
    env = np.sqrt(np.mean(np.square(pcm[:n * 160].reshape(n, 160), dtype=np.float64), axis=1))
    loud = env > env.max() * 0.01
    out = []
    for w in words:
        a = round(w.start * 100)
        idx = np.flatnonzero(loud[a:max(a + 1, round(w.end * 100))])
        out.append(w if not len(idx) else Word(w.text, (a + idx[0]) / 100, (a + idx[-1] + 1) / 100,
                                              w.probability))
    return out


class SpeechRecognizer:
    """Consumes AudioBlocks (call `feed` from one thread) and emits UserWords to `sink`."""

    def __init__(self, sink: Callable[[Event], None], *, clock: Callable[[], float] = time.monotonic,
                 prompt: str = "", engine: WhisperEngine | None = None,
                 partial_interval: float | None = 0.4, max_window: float = 8.0,
                 on_words: Callable[[list[Word]], None] | None = None) -> None:
        self._sink, self._clock, self._on_words = sink, clock, on_words
        self.available = False
        self.own_words = OwnWords()
        try:
            self.engine = engine or WhisperEngine()
            self._gate = VoiceActivityGate()
        except (EngineUnavailable, ImportError, OSError, RuntimeError) as exc:
            self.reason = str(exc)  # the status bar shows "hearing unavailable (reason)"
            sink(StreamState(clock(), "asr", "unavailable", self.reason))
            return
        self.engine.set_prompt(prompt)
        self._partial_step = None if partial_interval is None else int(partial_interval * RATE)
        self._max_window = int(max_window * RATE)
        self._buffer = np.zeros(0, np.float32)
        self._base = 0  # stream sample index of _buffer[0]
        self._t0: float | None = None  # time of stream sample 0
        self._gate_base = 0  # stream sample where the gate's own count began
        self._start: int | None = None  # stream sample where the open utterance window begins
        self._decoded_to = 0
        self._partial = ""
        self._latest: tuple[int, Decoding] | None = None  # the open window's last decode, and its end
        self._block_t = 0.0
        self._held: list[HeldFinal] = []
        self.decodes = 0
        self.available = True
        self.reason = self.engine.name
        sink(StreamState(clock(), "asr", "live", self.reason))

    @property
    def _end(self) -> int:
        return self._base + len(self._buffer)

    def feed(self, block: AudioBlock) -> None:
        """Recognize one block of 16 kHz float32 samples."""
        if not self.available:
            return
        if self._t0 is None:
            self._t0 = block.t
        elif abs(block.t - self._time(self._end)) > 0.1:  # blocks were dropped: resynchronize
            self.flush()
            self._t0 = block.t - self._end / RATE
            self._gate.reset()
            self._gate_base = self._end
        self._block_t = block.t
        self._release_held(self._time(self._end))
        self._buffer = np.concatenate([self._buffer, block.samples.astype(np.float32, copy=False)])
        changes = self._gate.push(block.samples)
        for change in changes:
            at = self._gate_base + change.at
            if change.speech and self._start is None:
                self._start = max(self._base, at - PREROLL)
                self._decoded_to, self._partial, self._latest = at, "", None
            elif not change.speech and self._start is not None:
                self._finish(min(self._end, at + TAIL), speech_end=at)
        if self._start is not None:
            if self._end - self._start >= self._max_window:
                self._finish(self._end)
                self._start = self._decoded_to = self._end
            elif self._partial_step is not None and (self._end - self._decoded_to >= self._partial_step
                                                     or self._gate.quiet_samples >= REUSE_TAIL):
                self._emit_partial()  # due, or the block ended quiet: it may be the final's decode
        keep = self._start if self._start is not None else self._end - PREROLL
        self._trim(max(self._base, keep))

    def companion_said(self, event: SelfSpeech) -> None:
        """The companion's voice played these words (any thread): their echo is not the user."""
        self.own_words.heard(event)

    def flush(self) -> None:
        """End of input: commit whatever is in progress."""
        if self.available and self._start is not None:
            self._finish(self._end)
        if self.available:
            self._release_held(float("inf"))

    def _time(self, sample: int) -> float:
        return (self._t0 or 0.0) + sample / RATE

    def _window(self, start: int, end: int) -> np.ndarray:
        return self._buffer[start - self._base:end - self._base]

    def _trim(self, keep: int) -> None:
        self._buffer = self._buffer[keep - self._base:]
        self._base = keep

    def _emit_partial(self) -> None:
        self._decoded_to = self._end
        decoding = self.engine.decode(self._window(self._start, self._end))
        self._latest = (self._end, decoding)
        self.decodes += 1
        text = decoding.text if plausible(decoding) else ""
        if text and self.own_words.is_echo(text, decoding.avg_logprob, self._time(self._start),
                                           self._time(self._end)):
            text = ""
        if text and text != self._partial:
            self._partial = text
            self._sink(UserWords(self._block_t, text, final=False))

    def _finish(self, end: int, speech_end: int | None = None) -> None:
        """Close the window [start, end): its final. A decode of the window made since the last
        speech (`speech_end`) is reused, given word times; otherwise the window is decoded."""
        start, self._start, self._partial = self._start, None, ""
        latest, self._latest = self._latest, None
        reusable = latest is not None and latest[0] >= (end if speech_end is None else speech_end + REUSE_TAIL)
        if reusable:
            end, decoding = latest[0], self.engine.with_words(latest[1])
        else:
            decoding = self.engine.decode(self._window(start, end), words=True)
            self.decodes += 1
        window = self._window(start, end)
        if not plausible(decoding):
            return
        words = _tighten(_undouble(_merge_punctuation(decoding.words)), window)
        text = " ".join(w.text for w in words) if words else decoding.text
        t0, t1 = self._time(start), self._time(end)
        if self.own_words.is_echo(text, decoding.avg_logprob, t0, t1):
            return
        held = HeldFinal(t0, t1, text, decoding.avg_logprob, words, self._block_t)
        if self.own_words.played_near(t0, t1):
            self._held.append(held)  # judged again once what played meanwhile is reported
        else:
            self._emit_final(held)

    def _release_held(self, now: float) -> None:
        """Emit held finals whose played words have been reported by `now`, unless they are echo."""
        while self._held and self._held[0].end + HOLD_S <= now:
            held = self._held.pop(0)
            if not self.own_words.is_echo(held.text, held.avg_logprob, held.start, held.end):
                self._emit_final(held)

    def _emit_final(self, held: HeldFinal) -> None:
        self._sink(UserWords(held.block_t, held.text, final=True))
        if self._on_words is not None:
            t0 = held.start
            self._on_words([Word(w.text, t0 + w.start, t0 + w.end, w.probability) for w in held.words])


_shared: dict[str, WhisperEngine] = {}
_shared_lock = threading.Lock()


def transcribe(pcm: np.ndarray, sample_rate: int, *, prompt: str = "",
               engine: WhisperEngine | None = None) -> list[Word]:
    """Words in `pcm` with times in seconds from its first sample (see the module docstring)."""
    x = np.asarray(pcm, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"transcribe wants mono audio (one dimension), got shape {x.shape}")
    if sample_rate != RATE:
        x = resample(x, sample_rate, RATE)
    with _shared_lock:
        if engine is None:
            engine = _shared.get("whisper") or _shared.setdefault("whisper", WhisperEngine())
        words: list[Word] = []
        recognizer = SpeechRecognizer(lambda e: None, clock=lambda: 0.0, prompt=prompt, engine=engine,
                                      partial_interval=None, on_words=words.extend)
        x = np.concatenate([x, np.zeros(-len(x) % BLOCK + BLOCK, np.float32)])  # closes a last utterance
        for i in range(0, len(x), BLOCK):
            recognizer.feed(AudioBlock(i / RATE, x[i:i + BLOCK], 0.0, _NO_DMEL))
        recognizer.flush()
    return words


_NO_DMEL = np.zeros((16, 80), np.uint8)
