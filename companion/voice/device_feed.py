"""DeviceFeed: the Speaker's audio-callback side, synthesized phrases copied out to the device.

The sounddevice callback (10 ms blocks) copies samples out of the queued Segments and posts what
it played, with the device's sample count, on the ledger's queue (the message formats are
companion.voice.speech_ledger's); it does nothing else, so it never waits on the Speaker's lock.
A cut asked for by `Speaker.stop()` makes the next callback play zeros instead.
"""

from __future__ import annotations

import collections
import queue
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from companion.voice.speech_ledger import CALLBACK_FRAMES, RATE
from companion.voice.tts import WordSpan


@dataclass(eq=False)
class Segment:
    """One synthesized phrase queued for the device: its spoken text, samples and word spans."""

    text: str
    samples: np.ndarray
    words: tuple[WordSpan, ...]
    pos: int = 0  # samples handed to the device (written by the audio callback only)
    reported: int = 0  # words already turned into SelfSpeech (ledger thread only)


class DeviceFeed:
    """The phrases ready to play, the one playing, and how far the device has got.

    `played` is the ledger's queue; `clock` stamps each callback; `muted` says whether to play
    nothing (the Speaker's mute)."""

    def __init__(self, played: queue.SimpleQueue, clock: Callable[[], float],
                 muted: Callable[[], bool]) -> None:
        self.played, self._clock, self._muted = played, clock, muted
        self.ready: collections.deque[Segment] = collections.deque()
        self.playing: Segment | None = None
        self.cut_requested = False
        self.device_pos = 0  # samples handed to the device so far (audio callback only)
        self.voiced_until = 0  # device position after the last speech sample handed over
        self.underflows = 0  # output underflows so far (the device played silence we did not send)

    def queued_seconds(self) -> float:
        playing = self.playing
        left = len(playing.samples) - playing.pos if playing is not None else 0
        return (left + sum(len(s.samples) for s in self.ready)) / RATE

    def holds_speech(self, latency: float) -> bool:
        """The last speech handed over may still be in the device's buffer (not yet heard)."""
        buffered = int((latency + 2 * CALLBACK_FRAMES / RATE) * RATE)
        return self.voiced_until > 0 and self.device_pos - self.voiced_until < buffered

    def on_audio(self, outdata, frames, time_info, status) -> None:
        # Audio thread: copy samples out and post what was played; all bookkeeping is the ledger's.
        first = self.device_pos
        self.device_pos += frames
        if status.output_underflow:
            self.underflows += 1
        self.played.put(("tick", self._clock(), frames,
                         time_info.outputBufferDacTime - time_info.currentTime,
                         bool(status.output_underflow)))
        out = outdata[:, 0]
        out[:] = 0.0
        if self.cut_requested:
            self.cut_requested = False
            self.played.put(("cut", first, self.playing))
            self.playing = None
        self._fill(out, first, frames)
        # The echo reference is the whole output stream, silence included, so that it stays
        # sample-continuous (see echo.py).
        self.played.put(("out", first, out.copy()))

    def _fill(self, out: np.ndarray, first: int, frames: int) -> None:
        filled = 0
        while filled < frames and not self._muted():
            seg = self.playing
            if seg is None:
                if not self.ready:
                    break
                seg = self.playing = self.ready.popleft()
            n = min(frames - filled, len(seg.samples) - seg.pos)
            out[filled:filled + n] = seg.samples[seg.pos:seg.pos + n]
            self.played.put(("play", first + filled, seg, seg.pos, n))
            seg.pos += n
            filled += n
            self.voiced_until = first + filled
            if seg.pos >= len(seg.samples):
                self.playing = None
