"""Speaker: speaks the model's text as it streams in, stops mid-word, and reports what was heard.

Three threads: `say()` appends text; a synthesis thread cuts it into phrases (at punctuation, at
12 words, or when the text pauses and the queued audio is about to run dry) and synthesizes them
ahead; the sounddevice callback (companion.voice.device_feed; 10 ms blocks, so `stop()` takes
effect within one block) copies samples out and posts what it played with the device's sample
count; a ledger thread (companion.voice.speech_ledger) turns that into SelfSpeech events and into
the echo canceller's reference. The output stream stays open for the whole session because
opening one on PulseAudio stalls for up to 1.5 s.

A word counts as played once its last audible sample reached the DAC (DAC time from the sample
count, see companion.audio.sample_clock.DacClock); a word cut in the middle is reported as
unspoken. SelfSpeech text is the spoken form (after speech_text.speakable). Without an output
device or TTS (or while muted) the Speaker is text-only: each phrase is emitted at once as
SelfSpeech with t == t_end ("displayed").
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable

import numpy as np

from companion.core.events import (
    AudioUnderruns,
    Event,
    Say,
    SelfSpeech,
    StopSpeaking,
    StreamState,
)
from companion.voice.device_feed import DeviceFeed, Segment
from companion.voice.speech_ledger import CALLBACK_FRAMES, RATE, SpeechLedger
from companion.voice.speech_text import speakable
from companion.voice.tts import EspeakVoice, TTSUnavailable

OUTPUT_LATENCY = 0.15  # s buffered: "low" starved under GIL load and mistimed words (docs/transcript.md)
MAX_PHRASE_WORDS = 12
_BOUNDARY = re.compile(r"[.!?;:,](?=\s)")


class Speaker:
    """Plays speech text through the default (or given) output device; see the module docstring.

    As a stage it consumes what the speech policy let through (Say) and hush (StopSpeaking)."""

    consumes = (Say, StopSpeaking)
    emits = (SelfSpeech, StreamState, AudioUnderruns)

    def __init__(self, sink: Callable[[Event], None], *, voice: EspeakVoice | None = None,
                 device: int | str | None = None,
                 reference: Callable[[float, np.ndarray], None] | None = None,
                 phrase_wait: float = 0.12, clock: Callable[[], float] = time.monotonic) -> None:
        self._sink, self._device, self._reference, self._clock = sink, device, reference, clock
        self._phrase_wait = phrase_wait
        self._voice, self._reason = voice, ""
        self._lock = threading.Condition()
        self._text = ""
        self._last_say = 0.0
        self._in_synthesis = ""
        self._cut_unspoken = ""
        self._played: queue.SimpleQueue = queue.SimpleQueue()
        self._muted = False
        # the audio callback's side: phrases ready to play, the one playing, the device position
        self._feed = DeviceFeed(self._played, clock, muted=lambda: self._muted)
        self._closing = False
        self._stream = None
        self._latency = 0.0
        self._threads: list[threading.Thread] = []

    @property
    def text_only(self) -> bool:
        return self._stream is None or self._muted

    @property
    def underflows(self) -> int:
        """Output underflows so far (the device played silence we did not send)."""
        return self._feed.underflows

    @property
    def speaking(self) -> bool:
        return (self._feed.playing is not None or bool(self._feed.ready)
                or bool(self._in_synthesis) or bool(self._text.strip()))

    def start(self) -> None:
        """Load the voice and open the output stream; either failing gives text-only mode."""
        if self._voice is None:
            try:
                self._voice = EspeakVoice(sample_rate=RATE)
            except TTSUnavailable as exc:
                self._reason = str(exc)
        if self._voice is not None:
            self._open_stream()
        if self._stream is None:
            self._sink(StreamState(self._clock(), "speaker", "unavailable",
                                   f"text-only: {self._reason}"))
        for target, name in ((self._synthesize_loop, "speaker-tts"), (self._ledger_loop, "speaker-ledger")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _open_stream(self) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            self._reason = f"PortAudio is not available: {exc}"
            return
        try:
            self._stream = sd.OutputStream(
                samplerate=RATE, channels=1, dtype="float32", blocksize=CALLBACK_FRAMES,
                latency=OUTPUT_LATENCY, device=self._device, callback=self._feed.on_audio)
            self._latency = float(self._stream.latency)
            self._stream.start()
        except (sd.PortAudioError, OSError, ValueError, RuntimeError) as exc:
            self._stream = None
            self._reason = f"no usable output device ({self._device or 'default'}): {exc}"
            return
        self._sink(StreamState(self._clock(), "speaker", "live", "espeak-ng voice, 16 kHz"))

    def process(self, event: Say | StopSpeaking) -> None:
        if isinstance(event, Say):
            self.say(event.text)
        else:
            self.stop()

    def say(self, fragment: str) -> None:
        """Queue more of what the model is saying (any granularity: words, phrases, sentences)."""
        with self._lock:
            self._text += fragment
            self._last_say = self._clock()
            self._lock.notify_all()

    def stop(self) -> None:
        """Silence now and drop everything queued: the device's own buffer (OUTPUT_LATENCY of
        audio already handed over) is dropped too, by aborting and restarting the stream."""
        with self._lock:
            feed = self._feed
            queued = [self._in_synthesis] + [s.text for s in feed.ready] + [self._text]
            unspoken = " ".join(q.strip() for q in queued if q.strip())
            feed.ready.clear()
            self._text = self._in_synthesis = ""
            self._lock.notify_all()
            if ((feed.playing is not None or feed.holds_speech(self._latency))
                    and not self.text_only):
                self._cut_unspoken = unspoken
                if not self._flush():
                    feed.cut_requested = True  # the next callback plays zeros instead
                return
        if unspoken:
            now = self._clock()
            self._sink(SelfSpeech(now, now, "", interrupted=True, unspoken=speakable(unspoken)))

    def _flush(self) -> bool:
        """Abort the stream (no callback runs once it returns; PortAudio drops what the device
        holds), hand the cut to the ledger, restart. False if the stream would not abort."""
        import sounddevice as sd  # deferred: only loaded once an output stream exists

        stream = self._stream
        try:
            stream.abort()
        except (sd.PortAudioError, RuntimeError):
            return False
        seg, self._feed.playing = self._feed.playing, None
        self._played.put(("flush", self._clock(), seg))
        try:
            stream.start()
        except (sd.PortAudioError, RuntimeError) as exc:
            self._stream = None
            self._reason = f"the output stream did not restart: {exc}"
            self._sink(StreamState(self._clock(), "speaker", "unavailable",
                                   f"text-only: {self._reason}"))
        return True

    def mute(self) -> None:
        """Stop playing and switch to text-only until unmute()."""
        self.stop()
        self._muted = True
        self._sink(StreamState(self._clock(), "speaker", "paused", "muted: speech shown as text"))

    def unmute(self) -> None:
        self._muted = False
        live = self._stream is not None
        self._sink(StreamState(self._clock(), "speaker", "live" if live else "unavailable",
                               "" if live else f"text-only: {self._reason}"))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._played.put(None)
        if self._stream is not None:
            self._stream.close(ignore_errors=True)
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._sink(StreamState(self._clock(), "speaker", "stopped", "closed"))

    # -- synthesis thread ------------------------------------------------------------------------

    def _next_phrase(self) -> str | None:
        """Called with the lock held: the next phrase to synthesize, or None to keep waiting."""
        text = self._text
        if not text.strip():
            return None
        boundary = _BOUNDARY.search(text)
        if boundary:
            cut = boundary.end()
        elif len(text.split()) > MAX_PHRASE_WORDS:
            cut = text.rstrip().rfind(" ")
        elif (self._clock() - self._last_say >= self._phrase_wait
              and self._feed.queued_seconds() < 0.4):
            cut = len(text)
        else:
            return None
        self._text = text[cut:]
        return text[:cut].strip()

    def _synthesize_loop(self) -> None:
        while True:
            with self._lock:
                phrase = None
                while not self._closing and (phrase := self._next_phrase()) is None:
                    self._lock.wait(timeout=0.02)
                if self._closing:
                    return
                self._in_synthesis = phrase
            spoken = speakable(phrase)
            if self.text_only:
                now = self._clock()
                self._sink(SelfSpeech(now, now, spoken))
                with self._lock:
                    self._in_synthesis = ""
                continue
            synthesis = self._voice.synthesize(spoken)
            with self._lock:
                if self._in_synthesis == phrase:  # else stop() dropped it while we synthesized
                    self._feed.ready.append(Segment(spoken, synthesis.samples, synthesis.words))
                self._in_synthesis = ""

    # -- ledger thread ---------------------------------------------------------------------------

    def _ledger_loop(self) -> None:
        SpeechLedger(self._sink, self._reference, self._clock, self._latency,
                     underflows=lambda: self._feed.underflows, speaking=lambda: self.speaking,
                     cut_unspoken=lambda: self._cut_unspoken).run(self._played)
