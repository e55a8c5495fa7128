"""SampleClock and DacClock: a stream's sample count on time.monotonic(), for the mic (AudioIn) and the speaker (Speaker)."""

from __future__ import annotations

import collections

import numpy as np


class SampleClock:
    """Maps a stream's sample count to time.monotonic(), from the times its callbacks ran.

    The anchor (monotonic time of sample 0) is the smallest callback bound over the last `window`
    callbacks: the minimum removes callback jitter, the window lets the anchor follow a stall
    (an output stream's start-up prefill runs ahead of the device, then the device stalls) and
    the device clock's drift.
    """

    def __init__(self, rate: int, window: int = 100) -> None:
        self.rate = rate
        self.samples = 0
        self._bounds: collections.deque[float] = collections.deque(maxlen=window)

    def callback(self, now: float, frames: int) -> None:
        """A callback delivering `frames` more samples ran at `now`."""
        self.samples += frames
        self._bounds.append(now - self.samples / self.rate)

    def restart(self) -> None:
        """Samples were lost or inserted (overflow, underflow): re-anchor from the next callback on."""
        self._bounds.clear()

    def time_of(self, sample: int) -> float:
        if not self._bounds:
            raise RuntimeError("SampleClock.time_of before any callback")
        return min(self._bounds) + sample / self.rate


class DacClock:
    """When each output sample reaches the DAC, on time.monotonic() (the Speaker's timeline).

    Per-callback times jitter by milliseconds (Python callbacks), which would chop the echo
    canceller's reference into misaligned pieces; so, as for the mic, the device's sample count is
    anchored by the earliest callback bound, plus the median latency PortAudio reports.
    """

    REALIGN = 0.004  # s: the timeline is re-aligned only when the estimate moves this much

    def __init__(self, rate: int, callback_frames: int, fallback_latency: float) -> None:
        self.rate = rate
        self._clock = SampleClock(rate, window=200)
        self._lags: collections.deque[float] = collections.deque(maxlen=51)
        self._frames = callback_frames
        self._lag = fallback_latency
        self._base: float | None = None

    def restart(self) -> None:
        """The device's timeline changed (it played zeros we did not send, or its buffer was
        dropped and the stream restarted): re-anchor from the next callback on. The latency is
        measured anew too: a device that underflowed was starved, its buffer is near empty, and
        the full buffer's latency from before would put every word up to a buffer late (measured:
        150–180 ms late after underflows on a loaded machine, 1–24 ms with the reset)."""
        self._clock.restart()
        self._lags.clear()
        self._base = None

    def tick(self, now: float, frames: int, lag: float, underflow: bool) -> None:
        if underflow:
            self.restart()
        self._clock.callback(now, frames)
        self._frames = frames
        if 0.0 <= lag < 1.0:
            self._lags.append(lag)
            self._lag = float(np.median(self._lags))

    def time_of(self, sample: int) -> float:
        # callback k ran at c_k for samples [n_k, n_k + frames) and its first sample reaches the
        # DAC at c_k + lag; the clock's bound is c_k - (n_k + frames) / self.rate.
        estimate = self._clock.time_of(sample) + self._frames / self.rate + self._lag
        # The timeline is latched and only re-aligned when the estimate moves by more than
        # REALIGN: sub-millisecond wobble (the latency median, the anchor) would otherwise shift
        # the echo reference by a sample here and there, which an adaptive filter cannot follow.
        if self._base is None or abs(self._base + sample / self.rate - estimate) > self.REALIGN:
            self._base = estimate - sample / self.rate
        return self._base + sample / self.rate
