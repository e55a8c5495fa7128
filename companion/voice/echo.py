"""Acoustic echo cancellation: removes the companion's own played voice from the microphone signal.

`speexdsp` from PyPI does not build here (it needs system headers), so this is a numpy
partitioned-block frequency-domain adaptive filter (PBFDAF, overlap-save, constrained gradient,
normalized per-bin step, a background/output filter pair against double talk) followed by a
residual-echo suppressor that gates echo-only blocks.

Both signals are sample-continuous streams with monotonic timestamps: the Speaker hands every
output callback's samples (zeros included) with their DAC time to `add_reference`, AudioIn hands
every captured block with its capture time to `process`. Timestamps wobble by milliseconds (they
are estimated from callback times), and an adaptive filter cannot follow even a one-sample shift,
so timestamps only *place* each stream once; after that both are read sample by sample, and a
stream is re-placed only when its timestamp disagrees with its sample count by more than JUMP
(a real discontinuity: an overflow, an underflow, a restart, or accumulated clock drift). The
remaining offset (timestamp error, the acoustic path: ~0 ms on the virtual sink, a few ms on
laptops) must lie within the filter: echoes from LOOKAHEAD early to 130 ms late are cancelled.
When the filter has not been cancelling for 0.4 s of playback, a GCC-PHAT delay estimate
(+-250 ms) re-places the reference if needed and restarts the filter from a one-tap estimate.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

RATE = 16_000
SUB = 200  # adaptive-filter block: 12.5 ms, 16 per 200 ms mic block
PARTS = 12  # filter length 12 x 200 = 2400 taps = 150 ms
LOOKAHEAD = 320  # 20 ms: the echo may arrive this much before its reference timestamp says
RING = 20 * RATE
OVERSUBTRACT = 3.0  # residual-echo estimate safety factor
FLOOR = 0.01  # -40 dB: the residual suppressor's deepest cut
LEAK_RISE = 1.02  # per 12.5 ms block: how fast the leak estimate may grow back
JUMP = 480  # 30 ms
MAX_LAG = 4000  # 250 ms: how far the delay estimate searches either way
ACTIVE = 1e-6  # mean-square reference level under which the filter does not adapt (silence)


def estimate_lag(mic: np.ndarray, wide: np.ndarray) -> tuple[int, float]:
    """Where `mic` best matches inside `wide` (GCC-PHAT): (offset into wide, correlation there)."""
    n = 1 << int(np.ceil(np.log2(len(wide) + len(mic))))
    cross = np.fft.rfft(wide, n) * np.conj(np.fft.rfft(mic, n))
    cc = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n)[:len(wide) - len(mic) + 1]
    lag = int(np.argmax(cc))
    seg = wide[lag:lag + len(mic)]
    corr = float(np.dot(seg, mic) / (np.sqrt(np.dot(seg, seg) * np.dot(mic, mic)) + 1e-12))
    return lag, corr


class EchoCanceller:
    """Subtracts an adaptive estimate of the played reference from mic blocks (any length % 200 == 0)."""

    def __init__(self, *, step: float = 1.0, suppress: bool = True) -> None:
        self._step, self._suppress = step, suppress
        self._lock = threading.Lock()
        self._ring = np.zeros(RING, np.float32)
        self._written_to: int | None = None  # reference stream index one past its newest sample
        self._t0, self._i0 = 0.0, 0  # the reference stream's placement: index of time t0
        self._w = np.zeros((PARTS, SUB + 1), np.complex128)  # background filter partitions (rfft)
        self._w_out = self._w.copy()  # the filter whose output is used
        self._bg_energy = self._out_energy = 0.0
        self._x = np.zeros((PARTS, SUB + 1), np.complex128)  # spectra of the recent input blocks
        self._x_prev = np.zeros(SUB, np.float64)
        self._power = np.full(SUB + 1, 1e-6)
        self._leak = 1.0
        self._gain = 1.0
        self._next_ref: int | None = None  # reference index the filter input continues from
        self._history: collections.deque = collections.deque(maxlen=2)  # (ref index, mic block)
        self._window_in = self._window_out = 0.0
        self._window_blocks = 0
        self.realignments = 0  # how often the delay estimate moved the reference
        self._offset = 0  # samples the delay estimate added to the timestamp placement
        self._locked = False  # the filter has cancelled well at least once since its last restart

    def add_reference(self, t: float, samples: np.ndarray) -> None:
        """The Speaker played `samples` (16 kHz float32) with the first one at DAC time `t`."""
        samples = np.asarray(samples, np.float32)[-RING:]
        with self._lock:
            if self._written_to is None:
                self._t0, self._i0, self._written_to = t, 0, 0
            predicted = self._index_at(t)
            if predicted - self._written_to > JUMP:  # a real gap: silence until this block
                self._write(self._written_to, np.zeros(min(predicted - self._written_to, RING), np.float32))
                self._written_to = predicted
            if abs(predicted - self._written_to) > JUMP:  # re-place the stream at its timestamp
                self._t0, self._i0 = t, self._written_to
            self._write(self._written_to, samples)
            self._written_to += len(samples)

    def _index_at(self, t: float) -> int:
        return self._i0 + round((t - self._t0) * RATE)

    def _write(self, start: int, samples: np.ndarray) -> None:
        idx = (start + np.arange(len(samples))) % RING
        self._ring[idx] = samples

    def reference(self, start: int, n: int) -> np.ndarray:
        """Reference samples [start, start + n) by stream index; zeros where nothing was played."""
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
        with self._lock:
            start = None if self._written_to is None else self._index_at(t) + LOOKAHEAD + self._offset
        if start is None:
            return mic.astype(np.float32)  # nothing played yet: nothing to cancel
        if self._next_ref is None or abs(start - self._next_ref) > JUMP:
            self._next_ref = start  # first block, or the mic stream jumped (overflow, mute)
            self._history.clear()
        ref = self.reference(self._next_ref, len(mic))
        self._history.append((self._next_ref - LOOKAHEAD, mic))
        self._next_ref += len(mic)
        if not ref.any() and not self._w_out.any() and not self._w.any():
            return mic.astype(np.float32)  # nothing played yet: nothing to cancel
        out = np.empty_like(mic)
        for i in range(0, len(mic), SUB):
            out[i:i + SUB] = self._filter_block(ref[i:i + SUB], mic[i:i + SUB])
        self._check_alignment(float(np.sum(mic * mic)), float(np.sum(out * out)), ref.any())
        return out.astype(np.float32)

    def _check_alignment(self, mic_energy: float, out_energy: float, active: bool) -> None:
        """Estimate the echo delay by cross-correlation when the filter has not cancelled for a
        while (ERLE < 6 dB over 0.4 s of playback: a fresh filter, or the true delay moved because
        of lost input samples, an output underflow, a different device) and restart from it."""
        if not active:
            return
        self._window_in += mic_energy
        self._window_out += out_energy
        self._window_blocks += 1
        if self._window_blocks < len(self._history) or self._history.maxlen != len(self._history):
            return
        poor = self._window_out > 0.25 * self._window_in and self._window_in > 1e-3
        self._window_in = self._window_out = 0.0
        self._window_blocks = 0
        if not poor:
            self._locked = True
            return
        first = self._history[0][0]
        if any(idx != first + i * len(d) for i, (idx, d) in enumerate(self._history)):
            return  # not one continuous stretch
        mic = np.concatenate([d for _, d in self._history])
        wide = self.reference(first - MAX_LAG, len(mic) + 2 * MAX_LAG)
        lag, corr = estimate_lag(mic, wide)
        # The mic's sample n echoes reference sample first + lead + n (lead > 0: the echo comes
        # earlier than the timestamps say). The filter spans leads from LOOKAHEAD down to
        # LOOKAHEAD - PARTS * SUB; a small margin keeps the tail of the path inside it.
        lead = lag - MAX_LAG
        covered = LOOKAHEAD - PARTS * SUB + 2 * SUB <= lead <= LOOKAHEAD - SUB // 4
        if corr < 0.5:
            return  # no clear echo (the user is talking, or the path is too reverberant)
        if not covered:
            self._offset += lead
            self._next_ref += lead
            self._history.clear()
            self.realignments += 1
            lead = 0
        tap = LOOKAHEAD - lead
        if self._locked and abs(self._peak_tap() - tap) <= 2:
            return  # a working filter where the echo is: poor ERLE here is the user talking
        # Restart both filters from the estimate, a single tap at the echo's delay: ~20 dB at
        # once on a short path, instead of seconds of adaptation from zero.
        seg = wide[lag:lag + len(mic)]
        gain = float(np.dot(seg, mic) / (np.dot(seg, seg) + 1e-12))
        taps = np.zeros(2 * SUB)
        taps[tap % SUB] = gain
        self._w[:] = 0.0
        self._w[tap // SUB] = np.fft.rfft(taps)
        self._w_out = self._w.copy()
        self._bg_energy = self._out_energy = 0.0
        self._locked = False

    def _peak_tap(self) -> int:
        taps = np.fft.irfft(self._w_out, axis=1)[:, :SUB]
        return int(np.argmax(np.abs(taps).ravel()))

    def _filter_block(self, x: np.ndarray, d: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(np.concatenate([self._x_prev, x]))
        self._x_prev = x
        self._x = np.roll(self._x, 1, axis=0)
        self._x[0] = spectrum
        echo_bg = np.fft.irfft((self._w * self._x).sum(axis=0))[SUB:]
        echo = np.fft.irfft((self._w_out * self._x).sum(axis=0))[SUB:]
        e_bg, e = d - echo_bg, d - echo
        active = np.mean(x * x) > ACTIVE
        if active:
            self._adapt(e_bg)
            self._choose_filter(float(np.sum(e_bg * e_bg)), float(np.sum(e * e)))
        if self._suppress and active:
            e = self._suppress_residual(e, echo)
        return e

    def _choose_filter(self, bg_energy: float, out_energy: float) -> None:
        """Two filters (after Speex's MDF): the background one always adapts, the output one only
        takes its coefficients while it does clearly better. When the user talks over the echo,
        adaptation is pulled off course; the output filter keeps cancelling meanwhile, and a
        background filter that has gone clearly worse is reset from it."""
        self._bg_energy = 0.8 * self._bg_energy + 0.2 * bg_energy
        self._out_energy = 0.8 * self._out_energy + 0.2 * out_energy
        if self._bg_energy < 0.7 * self._out_energy:
            self._w_out = self._w.copy()
            self._out_energy = self._bg_energy
        elif self._bg_energy > 4.0 * self._out_energy:
            self._w = self._w_out.copy()
            self._bg_energy = self._out_energy

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

    def _suppress_residual(self, e: np.ndarray, echo: np.ndarray) -> np.ndarray:
        """Scale the block by the share of its spectrum that is not residual echo.

        The residual in each bin is the echo estimate times `leak` (what the linear filter misses,
        tracked as the smallest recent error/echo energy ratio: single-talk blocks set it, double
        talk only raises the ratio). A broadband gain adds no delay and no musical noise; it
        gates echo-only blocks to -40 dB and passes blocks where the user speaks.
        """
        e_spec = np.abs(np.fft.rfft(e)) ** 2
        y_spec = np.abs(np.fft.rfft(echo)) ** 2
        e_sum, y_sum = float(e_spec.sum()), float(y_spec.sum())
        if y_sum <= 0.0 or e_sum <= 0.0:
            return e
        self._leak = min(self._leak * LEAK_RISE, e_sum / y_sum)
        near = np.maximum(e_spec - OVERSUBTRACT * self._leak * y_spec, 0.0).sum()
        gain = max(FLOOR, float(np.sqrt(near / e_sum)))
        # Open at once (the user's first syllable), close over a few blocks (no chopping).
        gain = max(gain, self._gain * 0.6)
        self._gain = gain
        return e * gain
