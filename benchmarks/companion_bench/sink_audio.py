"""The benchmark's audio: records the null sink's monitor (what a listener hears) and plays user speech into the sink.

Both streams stay open for a whole scenario (opening a PulseAudio stream stalls). Recorded
samples are placed on time.monotonic() (shared by every process on the machine, so the
companion's stream clock maps onto it) with the same sample-count clock the companion's mic
uses: a callback runs only after its samples were captured, so the smallest
`callback time - samples so far / rate` over the run is the recording's start. An input
overflow (lost samples) starts a new segment with its own anchor.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

RATE = 16_000
BLOCK = 320  # 20 ms


class SinkRecorder:
    """Records the default input (the null sink's monitor in the headless env) with monotonic times."""

    def __init__(self, device: int | str | None = None) -> None:
        self._device = device
        self._segments: list[tuple[list[float], list[np.ndarray]]] = []  # (bounds, blocks)
        self._count = 0
        self._lock = threading.Lock()
        self._stream = None
        self.overflows = 0

    def start(self) -> None:
        import sounddevice as sd
        self._stream = sd.InputStream(samplerate=RATE, channels=1, dtype="float32", blocksize=BLOCK,
                                      device=self._device, callback=self._on_audio)
        self._stream.start()

    def _on_audio(self, indata, frames, time_info, status) -> None:
        now = time.monotonic()
        with self._lock:
            if status.input_overflow or not self._segments:
                if self._segments:
                    self.overflows += 1
                self._segments.append(([], []))
                self._count = 0
            bounds, blocks = self._segments[-1]
            blocks.append(indata[:, 0].copy())
            self._count += frames
            bounds.append(now - self._count / RATE)

    def level(self, seconds: float) -> float:
        """RMS of the last `seconds` recorded (0 before anything was recorded)."""
        need = int(seconds * RATE)
        with self._lock:
            blocks = self._segments[-1][1] if self._segments else []
            tail: list[np.ndarray] = []
            got = 0
            for block in reversed(blocks):
                tail.append(block)
                got += len(block)
                if got >= need:
                    break
        if not tail:
            return 0.0
        samples = np.concatenate(tail[::-1])[-need:]
        return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def timeline(self, t0: float, end: float) -> np.ndarray:
        """Samples from monotonic t0 to end at RATE (zeros where nothing was recorded)."""
        n = max(0, round((end - t0) * RATE))
        out = np.zeros(n, np.float32)
        with self._lock:
            segments = [(min(b), np.concatenate(s)) for b, s in self._segments if b]
        for start, samples in segments:
            first = round((start - t0) * RATE)
            lo, hi = max(first, 0), min(first + len(samples), n)
            if hi > lo:
                out[lo:hi] = samples[lo - first:hi - first]
        return out


class ClipPlayer:
    """Plays clips into the default output as soon as asked; keeps one stream open."""

    def __init__(self, device: int | str | None = None) -> None:
        self._device = device
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._current: np.ndarray | None = None
        self._pos = 0
        self._stream = None

    def start(self) -> None:
        import sounddevice as sd
        self._stream = sd.OutputStream(samplerate=RATE, channels=1, dtype="float32", blocksize=BLOCK,
                                       device=self._device, callback=self._on_audio)
        self._stream.start()

    def play(self, clip: np.ndarray) -> None:
        self._queue.append(np.asarray(clip, np.float32))

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._queue)

    def _on_audio(self, outdata, frames, time_info, status) -> None:
        out = outdata[:, 0]
        out[:] = 0.0
        filled = 0
        while filled < frames:
            if self._current is None:
                if not self._queue:
                    return
                self._current, self._pos = self._queue.popleft(), 0
            n = min(frames - filled, len(self._current) - self._pos)
            out[filled:filled + n] = self._current[self._pos:self._pos + n]
            self._pos += n
            filled += n
            if self._pos >= len(self._current):
                self._current = None

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


def speech_intervals(samples: np.ndarray, *, threshold: float = 0.01, frame: int = 160,
                     min_gap: float = 0.25, min_len: float = 0.05) -> list[tuple[float, float]]:
    """Where `samples` (RATE) are audible: 10 ms RMS frames above `threshold` (≈ -40 dBFS),
    with gaps shorter than `min_gap` bridged (pauses between words) and blips dropped."""
    n = len(samples) // frame
    if n == 0:
        return []
    rms = np.sqrt(np.mean(np.square(samples[:n * frame].reshape(n, frame), dtype=np.float64), axis=1))
    loud = rms > threshold
    intervals: list[list[float]] = []
    for i in np.flatnonzero(loud):
        t = i * frame / RATE
        if intervals and t - intervals[-1][1] <= min_gap:
            intervals[-1][1] = t + frame / RATE
        else:
            intervals.append([t, t + frame / RATE])
    return [(a, b) for a, b in intervals if b - a >= min_len]


def locate_clip(recording: np.ndarray, clip: np.ndarray, around: float, *,
                before: float = 0.5, after: float = 3.0) -> float | None:
    """The time (s into `recording`) where `clip` starts, searched near `around` by
    cross-correlation; None when nothing there correlates (the clip was not heard)."""
    lo = max(0, int((around - before) * RATE))
    hi = min(len(recording), int((around + after) * RATE) + len(clip))
    window = recording[lo:hi]
    if len(window) < len(clip) or not np.any(clip):
        return None
    size = 1 << int(np.ceil(np.log2(len(window) + len(clip))))
    corr = np.fft.irfft(np.fft.rfft(window, size) * np.conj(np.fft.rfft(clip, size)), size)
    corr = corr[:len(window) - len(clip) + 1]
    k = int(np.argmax(corr))
    energy = float(np.dot(clip, clip))
    if corr[k] < 0.5 * energy:  # the clip is in the sink at unity gain: most of its energy lines up
        return None
    return (lo + k) / RATE
