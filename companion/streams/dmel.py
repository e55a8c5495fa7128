"""dMel audio features: a log-mel spectrogram with each bin quantized to a few levels (Bai et al. 2024).

16 kHz audio, 25 ms Hann window (400 samples, zero-padded to a 512-point FFT), 12.5 ms hop
(200 samples), 80 mel bins (HTK scale, 0-8 kHz). Frame i covers samples [200*i - 200, 200*i + 200),
with 200 zeros before the signal, so a 3200-sample block yields exactly 16 frames and needs only the
previous block's last 200 samples: `DMelStream` carries those over, which makes block-by-block
output bitwise equal to `dmel(whole_signal)`.

Each bin's log energy (dB of mel power) is clipped to [DB_MIN, DB_MAX] and quantized to LEVELS
uniform levels, giving uint8 codes 0..LEVELS-1. The range is fixed, not per-utterance, so codes
mean the same thing in every block (a streaming requirement; the paper normalizes per dataset).
"""

from __future__ import annotations

import numpy as np

from companion.core.events import MICRO_TURN_S

SAMPLE_RATE = 16_000
WINDOW = 400
HOP = 200
N_FFT = 512
N_MELS = 80
LEVELS = 16
DB_MIN = -70.0  # about the floor of a quiet room mic in this scale
DB_MAX = 30.0  # a full-scale tone concentrated in one mel bin reaches about +40 dB
BLOCK = round(SAMPLE_RATE * MICRO_TURN_S)  # 3200 samples: one micro-turn of audio
FRAMES_PER_BLOCK = BLOCK // HOP  # 16


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular HTK-mel filters, shape (n_fft // 2 + 1, n_mels), float32."""
    edges_hz = _mel_to_hz(np.linspace(0.0, _hz_to_mel(np.array(sr / 2)), n_mels + 2))
    bins_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (bins_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bins_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


_FILTERS = mel_filterbank()
_WINDOW = np.hanning(WINDOW + 1)[:-1].astype(np.float32)  # periodic Hann
_STEP = (DB_MAX - DB_MIN) / LEVELS


def _frames(padded: np.ndarray, n_frames: int) -> np.ndarray:
    """Overlapping windows of `padded` (which starts 200 samples before frame 0's hop)."""
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(WINDOW)[None, :]
    return padded[idx]


def _codes(frames: np.ndarray) -> np.ndarray:
    """uint8 dMel codes for a (n, 400) float32 frame matrix; each row is computed independently."""
    spectrum = np.fft.rfft(frames * _WINDOW, n=N_FFT, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    # Broadcast-and-sum rather than a BLAS matmul: a matmul's reduction order may depend on the
    # number of rows, which would break the bitwise streaming == offline guarantee.
    mel = (power[:, :, None] * _FILTERS[None, :, :]).sum(axis=1, dtype=np.float32)
    db = 10.0 * np.log10(mel + np.float32(1e-10), dtype=np.float32)
    levels = np.floor((np.clip(db, DB_MIN, DB_MAX - 1e-3) - DB_MIN) / _STEP)
    return levels.astype(np.uint8)


def dmel(signal: np.ndarray) -> np.ndarray:
    """dMel of a whole 16 kHz mono signal whose length is a multiple of 200: uint8 (len/200, 80)."""
    signal = _check_signal(signal, "signal")
    if len(signal) % HOP:
        raise ValueError(f"signal length {len(signal)} is not a multiple of the {HOP}-sample hop")
    padded = np.concatenate([np.zeros(WINDOW - HOP, np.float32), signal])
    return _codes(_frames(padded, len(signal) // HOP))


def dequantize(codes: np.ndarray) -> np.ndarray:
    """The dB value at the centre of each code's level (for plots and for sanity checks)."""
    return DB_MIN + (codes.astype(np.float32) + 0.5) * _STEP


class DMelStream:
    """dMel of consecutive 3200-sample blocks, carrying the 200-sample overlap between them."""

    def __init__(self) -> None:
        self._tail = np.zeros(WINDOW - HOP, np.float32)

    def reset(self) -> None:
        """Start a new signal (after a gap such as mute): the next block's overlap is silence."""
        self._tail = np.zeros(WINDOW - HOP, np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Features of one block: uint8 (16, 80)."""
        block = _check_signal(block, "block")
        if len(block) != BLOCK:
            raise ValueError(f"block has {len(block)} samples, expected {BLOCK} (200 ms at 16 kHz)")
        padded = np.concatenate([self._tail, block])
        self._tail = block[-(WINDOW - HOP):].copy()
        return _codes(_frames(padded, FRAMES_PER_BLOCK))


def _check_signal(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be mono (1-D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be float samples in [-1, 1], got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)
