"""Acoustic echo cancellation: removes the companion's own played voice from the microphone signal.

`speexdsp` from PyPI does not build here (it needs system headers), so this is a numpy
partitioned-block frequency-domain adaptive filter (PBFDAF, overlap-save, constrained gradient,
normalized per-bin step) followed by a mild residual-echo suppressor.

Both signals are on time.monotonic(): the Speaker hands every played block with its DAC time to
`add_reference`, AudioIn hands every captured block with its capture time to `process`. The
remaining misalignment (clock-anchor errors, the acoustic path, ~20 ms on the virtual sink, more
on laptops) is covered by reading the reference LOOKAHEAD ahead of the mic time and by the filter
length: echoes from 50 ms "early" to 100 ms late relative to the timestamps are cancelled.
"""

from __future__ import annotations

import threading

import numpy as np

RATE = 16_000
SUB = 200  # adaptive-filter block: 12.5 ms, 16 per 200 ms mic block
PARTS = 12  # filter length 12 x 200 = 2400 taps = 150 ms
LOOKAHEAD = 800  # 50 ms: the reference may be timestamped up to this much after the echo arrives
RING = 20 * RATE
ACTIVE = 1e-6  # mean-square reference level under which the filter does not adapt (silence)


class EchoCanceller:
    """Subtracts an adaptive estimate of the played reference from mic blocks (any length % 200 == 0)."""

    def __init__(self, *, step: float = 0.8, suppress: bool = True) -> None:
        self._step, self._suppress = step, suppress
        self._lock = threading.Lock()
        self._ring = np.zeros(RING, np.float32)
        self._written_to = None  # absolute sample index one past the newest reference sample
        self._w = np.zeros((PARTS, SUB + 1), np.complex128)  # filter partitions (rfft of 2*SUB)
        self._x = np.zeros((PARTS, SUB + 1), np.complex128)  # spectra of the recent input blocks
        self._x_prev = np.zeros(SUB, np.float64)
        self._power = np.full(SUB + 1, 1e-6)
        self._next_ref = None  # absolute reference index the filter input continues from

    def add_reference(self, t: float, samples: np.ndarray) -> None:
        """The Speaker played `samples` (16 kHz float32) with the first one at DAC time `t`."""
        start = int(round(t * RATE))
        samples = np.asarray(samples, np.float32)[-RING:]
        with self._lock:
            if self._written_to is not None and start > self._written_to:  # a silent gap
                self._write(self._written_to, np.zeros(min(start - self._written_to, RING), np.float32))
            self._write(start, samples)
            self._written_to = max(self._written_to or 0, start + len(samples))

    def _write(self, start: int, samples: np.ndarray) -> None:
        idx = (start + np.arange(len(samples))) % RING
        self._ring[idx] = samples

    def reference(self, start: int, n: int) -> np.ndarray:
        """Reference samples [start, start + n) by absolute index; zeros where nothing was played."""
        with self._lock:
            out = self._ring[(start + np.arange(n)) % RING].astype(np.float64)
            newest = self._written_to
        if newest is None:
            return np.zeros(n)
        valid = (np.arange(start, start + n) < newest) & (np.arange(start, start + n) >= newest - RING)
        return np.where(valid, out, 0.0)

    def process(self, t: float, mic: np.ndarray) -> np.ndarray:
        """The mic block captured from time `t`, with the echo of the reference removed."""
        mic = np.asarray(mic, np.float64)
        if len(mic) % SUB:
            raise ValueError(f"mic block of {len(mic)} samples is not a multiple of {SUB}")
        start = int(round(t * RATE)) + LOOKAHEAD
        if self._next_ref is None or abs(start - self._next_ref) > SUB // 2:
            self._next_ref = start  # first block, or the mic timeline jumped (overflow, mute)
        ref = self.reference(self._next_ref, len(mic))
        self._next_ref += len(mic)
        if not ref.any() and not self._w.any():
            return mic.astype(np.float32)  # nothing played yet: nothing to cancel
        out = np.empty_like(mic)
        for i in range(0, len(mic), SUB):
            out[i:i + SUB] = self._filter_block(ref[i:i + SUB], mic[i:i + SUB])
        return out.astype(np.float32)

    def _filter_block(self, x: np.ndarray, d: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(np.concatenate([self._x_prev, x]))
        self._x_prev = x
        self._x = np.roll(self._x, 1, axis=0)
        self._x[0] = spectrum
        echo_spec = (self._w * self._x).sum(axis=0)
        echo = np.fft.irfft(echo_spec)[SUB:]
        e = d - echo
        active = np.mean(x * x) > ACTIVE
        if active:
            self._adapt(e)
        if self._suppress and active:
            e = self._suppress_residual(e, echo, d)
        return e

    def _adapt(self, e: np.ndarray) -> None:
        now = (np.abs(self._x) ** 2).sum(axis=0) / PARTS
        # Fast attack, slow release: an underestimated power would make a huge, divergent step.
        self._power = np.maximum(now, 0.9 * self._power + 0.1 * now)
        err = np.fft.rfft(np.concatenate([np.zeros(SUB), e]))
        grad = np.conj(self._x) * err / (PARTS * self._power + 1e-8)
        # Constrain each partition's update to SUB taps (drop the circular-convolution half).
        taps = np.fft.irfft(grad, axis=1)
        taps[:, SUB:] = 0.0
        self._w += self._step * np.fft.rfft(taps, axis=1)

    @staticmethod
    def _suppress_residual(e: np.ndarray, echo: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Attenuate what is left when the error is mostly echo (little energy beyond the estimate)."""
        e_pow, echo_pow = float(np.mean(e * e)), float(np.mean(echo * echo))
        if echo_pow <= 0.0:
            return e
        # Near-end speech makes e much larger than the estimated residual (a few % of the echo);
        # pure residual echo does not. Gain from 0.1 (residual) to 1 (near-end dominates).
        residual = 0.01 * echo_pow
        gain = np.clip((e_pow - residual) / (e_pow + 1e-12), 0.1, 1.0)
        return e * gain
