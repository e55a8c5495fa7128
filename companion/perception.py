"""Perception: starts the file, screen and audio streams (and the screen reader) and controls them.

Each source starts on its own; one that cannot (no display, no sound card) reports a StreamState
and the others keep working. Sources only emit into the hub; the runtime connects the screen
reader (a stage) and pauses or mutes sources for the TUI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from companion.core.events import Event, StreamState
from companion.streams.audio import AudioIn, EchoFilter
from companion.streams.files import FileWatch
from companion.streams.screen import ScreenWatch
from companion.streams.screen_text import ScreenReader
from companion.streams.x11_windows import X11Windows


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
        self.files = self.screen = self.audio = None
        self.reader = None  # the screen reader (OCR), when screen reading is on
        self._windows = None  # its X connection for window titles

    def _unavailable(self, stream: str, reason: str) -> None:
        self._emit(StreamState(time.monotonic(), stream, "unavailable", reason))

    def start(self, rules=None, echo: EchoFilter | None = None) -> None:
        """Start every enabled source (the runtime starts the voice between the two halves)."""
        self.start_watching(rules)
        self.start_listening(echo)

    def start_watching(self, rules=None) -> None:
        """The files and the screen; `rules` (a Rules object) sets the screen options."""
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

    def start_listening(self, echo: EchoFilter | None = None) -> None:
        """The mic; `echo` (the echo canceller, when the companion speaks) cleans it."""
        opts = self.options
        if opts.mic or opts.mic_file:
            self.audio = AudioIn(self._emit, mic_file=opts.mic_file, echo=echo)
            self.audio.start()
        else:
            self._unavailable("audio", "off (--no-mic)")

    def _screen_reader(self, mode: str) -> ScreenReader:
        titles = None
        try:
            self._windows = X11Windows()
            titles = self._windows.title_at  # only ever called on the OCR worker thread
        except OSError:
            pass  # no X display: regions are read without a window title
        reader = ScreenReader(self._emit, self.repo, mode=mode, titles=titles)
        reader.start()
        return reader

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
