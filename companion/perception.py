"""Perception and voice devices: file, screen and audio streams, ASR, echo cancelling and the Speaker.

Each part starts on its own; one that cannot (no display, no sound card, no espeak) reports a
StreamState and the others keep working. The runtime only calls the methods here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from companion.core.events import AudioBlock, Event, SelfSpeech, StreamState
from companion.streams.audio import AudioIn
from companion.streams.files import FileWatch
from companion.streams.screen import ScreenWatch
from companion.streams.screen_text import ScreenReader
from companion.streams.x11_windows import X11Windows
from companion.voice.asr import SpeechRecognizer
from companion.voice.echo import EchoCanceller
from companion.voice.speaker import Speaker
from companion.voice.tts import EspeakVoice, TTSUnavailable
from companion.voice.vocabulary import repository_prompt


@dataclass(slots=True)
class PerceptionOptions:
    files: bool = True
    screen: bool = True
    mic: bool = True
    mic_file: Path | None = None
    voice: bool = True
    asr: bool = True
    own_outputs: tuple[Path, ...] = ()  # files the companion writes; never watched or sent


class Perception:
    def __init__(self, repo: Path, options: PerceptionOptions, emit: Callable[[Event], None]) -> None:
        self.repo = repo
        self.options = options
        self._emit = emit
        self.files = self.screen = self.audio = self.asr = self.speaker = self.echo = None
        self.reader = None  # the screen reader (OCR), when screen reading is on
        self._windows = None  # its X connection for window titles
        self._asr_blocks: deque[AudioBlock] = deque(maxlen=10)
        self._asr_ready = threading.Condition()
        self._asr_thread: threading.Thread | None = None
        self._closing = False

    def _unavailable(self, stream: str, reason: str) -> None:
        self._emit(StreamState(time.monotonic(), stream, "unavailable", reason))

    def start(self, rules=None) -> None:
        """Start every enabled part; `rules` (a Rules object) sets screen and voice options."""
        opts = self.options
        if opts.files:
            self.files = FileWatch(self.repo, self._emit, own_outputs=opts.own_outputs)
            self.files.start()
        if opts.screen:
            screen = getattr(rules, "screen", None)
            kwargs = {}
            if screen is not None:
                kwargs = {"fps": screen.fps, "monitor": screen.monitor,
                          "region": screen.region, "exclude_regions": screen.exclude_regions,
                          "exclude_titles": screen.exclude_windows}
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            read = getattr(screen, "read", "errors")
            if read != "off":  # "off": no OCR at all, not even a frame handed over
                self.reader = self._screen_reader(read)
                kwargs["frame_sink"] = self.reader.on_frame
            self.screen = ScreenWatch(self._emit, **kwargs)
            self.screen.start()
        else:
            self._unavailable("screen", "off (--no-screen)")
        if opts.voice:
            self._start_voice(rules)
        else:
            self._unavailable("speaker", "off: text only")
        if opts.mic or opts.mic_file:
            if opts.asr:  # the recognizer loads (about a second) on its own thread
                self._asr_thread = threading.Thread(target=self._recognize, name="asr", daemon=True)
                self._asr_thread.start()
            self.audio = AudioIn(self._emit, mic_file=opts.mic_file, echo=self.echo)
            self.audio.start()
        else:
            self._unavailable("audio", "off (--no-mic)")

    def _screen_reader(self, mode: str):
        titles = None
        try:
            self._windows = X11Windows()
            titles = self._windows.title_at  # only ever called on the OCR worker thread
        except OSError:
            pass  # no X display: regions are read without a window title
        reader = ScreenReader(self._emit, self.repo, mode=mode, titles=titles)
        reader.start()
        return reader

    def on_event(self, event: Event) -> None:
        """Events from the hub that perception's stages consume (the reader's FileChanged)."""
        if self.reader is not None:
            self.reader.on_event(event)

    def _start_voice(self, rules) -> None:
        voice_rules = getattr(rules, "voice", None)
        voice = None
        try:
            kwargs = {}
            if voice_rules is not None:
                kwargs = {"voice": voice_rules.voice, "rate": voice_rules.rate}
            voice = EspeakVoice(**{k: v for k, v in kwargs.items() if v is not None})
        except (TTSUnavailable, ValueError) as exc:
            self._unavailable("speaker", f"no voice: {exc}; text only")
        self.echo = EchoCanceller()
        self.speaker = Speaker(self._said, voice=voice, reference=self.echo.add_reference)
        self.speaker.start()
        if voice_rules is not None and getattr(voice_rules, "mute", False):
            self.speaker.mute()

    def _said(self, event: Event) -> None:
        """The Speaker's events; what it played also tells the recognizer which words are echo."""
        asr = self.asr
        if isinstance(event, SelfSpeech) and asr is not None and asr.available:
            asr.companion_said(event)
        self._emit(event)

    def hear(self, block: AudioBlock) -> None:
        """Called on the audio thread for every block; recognition (a decode every 0.4 s of speech)
        runs on its own thread so it never holds up the audio path. A backlog keeps only the
        newest two seconds (the recognizer resynchronizes over the gap)."""
        asr = self.asr
        if self._asr_thread is not None and (asr is None or asr.available):  # None: still loading
            with self._asr_ready:
                self._asr_blocks.append(block)
                self._asr_ready.notify()

    def _recognize(self) -> None:

        self.asr = SpeechRecognizer(self._emit, prompt=repository_prompt(self.repo))
        if not self.asr.available:
            return
        while True:
            with self._asr_ready:
                while not self._asr_blocks and not self._closing:
                    self._asr_ready.wait()
                if self._closing:
                    return
                block = self._asr_blocks.popleft()
            self.asr.feed(block)

    def say(self, text: str) -> None:
        if self.speaker is not None:
            self.speaker.say(text)

    def stop_speaking(self) -> None:
        if self.speaker is not None:
            self.speaker.stop()

    def set_mic_muted(self, muted: bool) -> None:
        if self.audio is not None:
            self.audio.mute() if muted else self.audio.unmute()

    def set_screen_paused(self, paused: bool) -> None:
        if self.screen is not None:
            self.screen.pause() if paused else self.screen.resume()

    def stop(self) -> None:
        for part in (self.audio, self.screen, self.reader, self.files):
            if part is not None:
                part.stop()
        if self._windows is not None:
            self._windows.close()
        with self._asr_ready:
            self._closing = True
            self._asr_ready.notify()
        if self._asr_thread is not None:
            self._asr_thread.join(timeout=2)
            if not self._asr_thread.is_alive() and self.asr is not None:
                self.asr.flush()
        if self.speaker is not None:
            self.speaker.close()
