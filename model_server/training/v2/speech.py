"""User speech for training: training voices only, real TTS engines, the real recognizer's words.

Each (voice, text) is synthesized once (espeak-ng through companion.voice.tts, flite through its
CLI), scaled to a speaking level, and fed block by block to the recognizer the product runs, as
200 ms AudioBlocks with their real dMel rows. What it heard (partials and finals, with their
offsets from the utterance start) is cached on disk next to the audio; recognition is
deterministic. `recognize` is the one place the recognizer is named, so replacing pocketsphinx
is a one-line change here.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.heldout import HELD_OUT_VOICES, TRAINING_VOICES
from companion.core.events import AudioBlock, UserWords
from companion.streams.dmel import BLOCK, SAMPLE_RATE, DMelStream
from companion.audio.resample import resample

CACHE = Path("/work/cache/training/speech")
TAIL_S = 1.0  # silence after the utterance so the recognizer's endpointer commits the words


@dataclass(frozen=True, slots=True)
class Utterance:
    """One spoken line: its samples, where the voice is audible, and what the recognizer heard."""

    voice: tuple[str, str]
    text: str
    samples: np.ndarray  # float32 at 16 kHz, the utterance alone (no tail)
    heard: tuple[tuple[float, str, bool], ...]  # (seconds after start, text, final)


def synthesize(voice: tuple[str, str], text: str) -> np.ndarray:
    """16 kHz float32 speech of `text` in a training voice (never a held-out one)."""
    if voice in HELD_OUT_VOICES or voice not in TRAINING_VOICES:
        raise ValueError(f"{voice} is not a training voice (benchmarks/heldout.py)")
    engine, name = voice
    if engine == "espeak-ng":
        from companion.voice.tts import EspeakVoice

        return EspeakVoice(voice=name, sample_rate=SAMPLE_RATE).synthesize(text).samples
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "say.wav")
        subprocess.run(["flite", "-voice", name, "-t", text, "-o", str(out)], check=True,
                       capture_output=True, timeout=60)
        with wave.open(str(out)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return resample(pcm, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else pcm


def blocks_of(samples: np.ndarray, t0: float = 0.0) -> list[AudioBlock]:
    """Samples as the AudioBlocks AudioIn emits: 200 ms each, level and streaming dMel."""
    from companion.streams.audio import level_dbfs

    n = -(-len(samples) // BLOCK) * BLOCK
    padded = np.zeros(n, np.float32)
    padded[:len(samples)] = samples
    stream = DMelStream()
    return [AudioBlock(t0 + i / 5, b, level_dbfs(b), stream.push(b))
            for i, b in enumerate(padded.reshape(-1, BLOCK))]


def pocketsphinx_words(blocks: list[AudioBlock]) -> list[UserWords]:
    """What the product's recognizer (companion.voice.asr) emits for these blocks."""
    from companion.voice.asr import SpeechRecognizer

    heard: list[UserWords] = []
    recognizer = SpeechRecognizer(lambda e: heard.append(e) if isinstance(e, UserWords) else None,
                                  clock=lambda: 0.0)
    if not recognizer.available:
        raise RuntimeError("pocketsphinx is not available: training needs the real recognizer")
    for block in blocks:
        recognizer.feed(block)
    recognizer.flush()
    return heard


recognize = pocketsphinx_words  # the swap point for the next recognizer


def utterance(voice: tuple[str, str], text: str, level_db: float = -22.0,
              cache: Path = CACHE) -> Utterance:
    """Synthesize, level and recognize one line (cached by voice, text and level)."""
    key = hashlib.sha256(f"{voice}\0{text}\0{level_db}".encode()).hexdigest()[:24]
    path = cache / f"{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            heard = tuple((float(t), str(w), bool(f)) for t, w, f in
                          zip(z["t"], z["words"], z["final"], strict=True))
            return Utterance(voice, text, z["samples"], heard)
    samples = synthesize(voice, text).astype(np.float32)
    rms = float(np.sqrt(np.mean(samples ** 2))) or 1e-9
    samples = samples * (10 ** (level_db / 20) / rms)
    noise = np.random.default_rng(int(key[:8], 16)).normal(0, 10 ** (-62 / 20), len(samples))
    tail = np.random.default_rng(1).normal(0, 10 ** (-62 / 20), int(TAIL_S * SAMPLE_RATE))
    mic = np.concatenate([samples + noise, tail]).astype(np.float32)
    words = recognize(blocks_of(mic))
    heard = tuple((round(w.t, 3), w.text, w.final) for w in words)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, samples=samples.astype(np.float32), t=np.array([h[0] for h in heard]),
                        words=np.array([h[1] for h in heard], dtype=str),
                        final=np.array([h[2] for h in heard], dtype=bool))
    tmp.replace(path)
    return Utterance(voice, text, samples.astype(np.float32), heard)
