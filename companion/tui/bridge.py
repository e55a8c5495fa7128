"""Carries the runtime's events from any thread into the Textual app, thinning high-rate ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import App
from textual.message import Message

from companion.core.events import AudioBlock, Event, ScreenPatches

LEVEL_INTERVAL_S = 0.1  # the mic meter redraws at most 10 times a second
FPS_WINDOW_S = 1.0  # screen fps is reported once a second from the frames counted in it


class EventBridge:
    """The sink the app hands to `CompanionControls.subscribe`: thread-safe, never blocks.

    Most events become one `Arrived` message. Audio blocks only carry a level for the meter
    and screen patches only a frame count, so they are reduced to `Level` and `ScreenRate`
    messages at a fixed low rate; those messages replace queued ones of their kind.
    """

    @dataclass
    class Arrived(Message):
        event: Event

    @dataclass
    class Level(Message):
        level_db: float

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EventBridge.Level)

    @dataclass
    class ScreenRate(Message):
        fps: float

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EventBridge.ScreenRate)

    def __init__(self, app: App, clock: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._clock = clock
        self._last_level = float("-inf")
        self._window: tuple[int, float] | None = None  # (frame index, its time) opening the window
        self.closed = False
        self.dropped = 0  # audio blocks and patch events folded into the low-rate messages

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        now = self._clock()
        if isinstance(event, AudioBlock):
            if now - self._last_level < LEVEL_INTERVAL_S:
                self.dropped += 1
                return
            self._last_level = now
            self._post(self.Level(event.level))
        elif isinstance(event, ScreenPatches):
            # Frame indices count captures, changed or not, so this is the capture rate.
            self.dropped += 1
            if self._window is None or event.frame < self._window[0]:
                self._window = (event.frame, event.t)
            elif event.t - self._window[1] >= FPS_WINDOW_S:
                frames, start = event.frame - self._window[0], self._window[1]
                self._post(self.ScreenRate(frames / (event.t - start)))
                self._window = (event.frame, event.t)
        else:
            self._post(self.Arrived(event))

    def _post(self, message: Message) -> None:
        try:
            self._app.post_message(message)
        except RuntimeError:
            # The app's loop closed between our check and the post (quitting): drop the event.
            self.closed = True
