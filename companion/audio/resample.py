"""Sample-rate conversion of whole signals by windowed-sinc interpolation (numpy only).

Used where a whole signal is at hand: a TTS phrase (22050 Hz) before playback, a `--mic-file` WAV
before it is cut into blocks. Low-pass at 0.95 x the lower Nyquist, 32 taps a side, Kaiser window;
the kernel is tabulated at 1/512-sample phases so each output sample is one gather and dot.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

HALF_TAPS = 32
PHASES = 512
_BETA = 8.0  # Kaiser window shape: about 80 dB stop-band
_CHUNK = 8192  # output samples per vectorized step: bounds the (chunk, taps) index matrix


@lru_cache(maxsize=8)
def _kernel_table(cutoff: float) -> np.ndarray:
    """(PHASES + 1, 2 * HALF_TAPS) float32 weights; row p is for a fractional position p/PHASES."""
    taps = np.arange(-HALF_TAPS + 1, HALF_TAPS + 1)
    frac = np.arange(PHASES + 1) / PHASES
    offsets = taps[None, :] - frac[:, None]
    edge = np.clip(1.0 - (offsets / HALF_TAPS) ** 2, 0.0, None)
    weights = cutoff * np.sinc(cutoff * offsets) * np.i0(_BETA * np.sqrt(edge)) / np.i0(_BETA)
    return weights.astype(np.float32)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """`x` (1-D float) resampled from `sr_in` to `sr_out` Hz; float32, length round(len*out/in)."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample takes mono 1-D audio, got shape {x.shape}")
    if sr_in == sr_out or len(x) == 0:
        return x.copy()
    n_out = round(len(x) * sr_out / sr_in)
    table = _kernel_table(round(0.95 * min(1.0, sr_out / sr_in), 6))
    taps = np.arange(-HALF_TAPS + 1, HALF_TAPS + 1)
    padded = np.concatenate([np.zeros(HALF_TAPS, np.float32), x, np.zeros(HALF_TAPS, np.float32)])
    out = np.empty(n_out, np.float32)
    for start in range(0, n_out, _CHUNK):
        pos = np.arange(start, min(n_out, start + _CHUNK)) * (sr_in / sr_out)
        base = np.floor(pos).astype(np.int64)
        phase = np.rint((pos - base) * PHASES).astype(np.int64)
        idx = base[:, None] + taps[None, :] + HALF_TAPS
        out[start:start + len(pos)] = np.einsum("ij,ij->i", padded[idx], table[phase])
    return out
