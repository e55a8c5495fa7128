"""User speech for the benchmark, synthesized only with held-out voices (benchmarks/heldout.py).

Two engines: espeak-ng (the library the companion ships, via companion.voice.tts) and flite
(the Debian command line). Text with " | " is spoken in parts with `pause` seconds of silence
between, so a scenario can place a mid-utterance pause exactly.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from benchmarks.heldout import HELD_OUT_VOICES
from companion.audio.resample import resample

RATE = 16_000
LEVEL = 0.3  # peak level of user speech in the sink


def _flite(voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True,
                       capture_output=True, timeout=60)
        with wave.open(str(out), "rb") as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0
    return resample(samples, rate, RATE)


def _espeak(voice: str, text: str) -> np.ndarray:
    from companion.voice.tts import EspeakVoice
    return EspeakVoice(voice=voice, sample_rate=RATE).synthesize(text).samples


def _trim(samples: np.ndarray, threshold: float = 0.005) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples[:0]


def synthesize(engine: str, voice: str, text: str, pause: float = 0.0) -> np.ndarray:
    """The spoken clip (float32, 16 kHz, peak LEVEL, no leading/trailing silence)."""
    if (engine, voice) not in HELD_OUT_VOICES:
        raise ValueError(f"{engine}:{voice} is not a held-out voice; the benchmark speaks only those")
    speak = _flite if engine == "flite" else _espeak
    parts = [_trim(speak(voice, part.strip())) for part in text.split(" | ") if part.strip()]
    gap = np.zeros(int(pause * RATE), np.float32)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(part)
    clip = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    peak = float(np.max(np.abs(clip))) if len(clip) else 0.0
    return (clip * (LEVEL / peak)).astype(np.float32) if peak > 0 else clip
