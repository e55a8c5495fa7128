"""The hearing benchmark's audio: held-out voices (flite, espeak-ng), keyboard/fan noise, and the echo path.

Synthesized clips are cached as .npy in a temp directory (never the repository), keyed by engine,
voice and text. Noise is generated from a fixed seed, so every run hears the same audio.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.audio.resample import resample

RATE = 16_000
CACHE = Path(os.environ.get("HEARING_CACHE", Path(tempfile.gettempdir()) / "companion-hearing-cache"))


def _wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    return resample(x, sr, RATE) if sr != RATE else x


def synthesize(engine: str, voice: str, text: str) -> np.ndarray:
    """16 kHz float32 speech, peak-normalized to -6 dBFS, from the cache when possible."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{engine}\0{voice}\0{text}".encode()).hexdigest()[:24]
    path = CACHE / f"{key}.npy"
    if path.exists():
        return np.load(path)
    if engine == "flite":
        with tempfile.NamedTemporaryFile(suffix=".wav") as out:
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", out.name], check=True)
            x = _wav(Path(out.name).read_bytes())
    elif engine == "espeak-ng":
        data = subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "--stdout", text],
                              check=True, capture_output=True).stdout
        x = _wav(data)
    else:
        raise ValueError(f"unknown TTS engine {engine!r}")
    x = (0.5 * x / max(1e-6, float(np.max(np.abs(x))))).astype(np.float32)
    np.save(path, x)
    return x


def speech_span(x: np.ndarray, threshold: float = 0.01) -> tuple[int, int]:
    """First and one-past-last sample whose 10 ms RMS exceeds the threshold."""
    n = len(x) // 160
    env = np.sqrt(np.mean(np.square(x[:n * 160].reshape(n, 160)), axis=1))
    loud = np.flatnonzero(env > threshold)
    if not len(loud):
        return 0, 0
    return int(loud[0] * 160), int((loud[-1] + 1) * 160)


def fan_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """A fan: brown-ish broadband noise plus a motor hum at 100 Hz and its harmonics."""
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum /= np.maximum(f, 40.0) ** 0.8
    x = np.fft.irfft(spectrum, n)
    t = np.arange(n) / RATE
    x = x / np.std(x) + 0.3 * sum(np.sin(2 * np.pi * 100 * k * t + k) / k for k in (1, 2, 3))
    return (x / np.std(x)).astype(np.float32)


def keyboard_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Typing: bursts of key clicks (3 ms noise bursts ringing down over ~15 ms), ~7 keys/s."""
    x = np.zeros(n)
    click = rng.standard_normal(400) * np.exp(-np.arange(400) / 60.0)
    t = 0
    while t < n - 400:
        gain = rng.uniform(0.4, 1.0)
        x[t:t + 400] += gain * click * (1 if rng.random() < 0.5 else -1)
        t += int(RATE * (rng.exponential(0.14) if rng.random() < 0.9 else rng.uniform(0.5, 1.5)))
    return (x / max(1e-9, np.std(x))).astype(np.float32)


def room_noise(n: int, seed: int) -> np.ndarray:
    """Keyboard and fan noise of equal power, unit RMS overall."""
    rng = np.random.default_rng(seed)
    x = fan_noise(n, rng) + keyboard_noise(n, rng)
    return (x / np.std(x)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    start: float  # seconds in the stream where its speech starts
    end: float  # ... and ends


def phrase_stream(clips: list[tuple[str, np.ndarray]], gap: float = 1.2, lead: float = 1.0,
                  snr_db: float | None = None, seed: int = 0) -> tuple[np.ndarray, list[Utterance]]:
    """Clips one after another with `gap` s between their speech; noise at `snr_db` if given."""
    parts, utterances, pos = [np.zeros(int(lead * RATE), np.float32)], [], int(lead * RATE)
    powers = []
    for text, x in clips:
        a, b = speech_span(x)
        body = x[a:b]
        utterances.append(Utterance(text, pos / RATE, (pos + len(body)) / RATE))
        powers.append(float(np.mean(body ** 2)))
        parts += [body, np.zeros(int(gap * RATE), np.float32)]
        pos += len(body) + int(gap * RATE)
    stream = np.concatenate(parts)
    stream = np.concatenate([stream, np.zeros(-len(stream) % 3200, np.float32)])
    if snr_db is not None:
        speech_rms = float(np.sqrt(np.mean(powers)))
        stream = stream + room_noise(len(stream), seed) * speech_rms * 10 ** (-snr_db / 20)
    return stream.astype(np.float32), utterances


def echo_path(played: np.ndarray, seed: int = 0) -> np.ndarray:
    """What a laptop mic hears of its own speaker: 25 ms delay, a short decaying room response,
    -6 dB, a little speaker saturation, and a quiet fan."""
    rng = np.random.default_rng(seed)
    taps = rng.standard_normal(1600) * np.exp(-np.arange(1600) / 240.0)
    taps[0] = 4.0
    rir = np.concatenate([np.zeros(400), taps / np.sum(np.abs(taps)) * 2.0])
    echo = np.convolve(np.tanh(1.5 * played) / 1.5, rir)[:len(played)] * 0.5
    return (echo + 0.003 * fan_noise(len(played), rng)).astype(np.float32)
