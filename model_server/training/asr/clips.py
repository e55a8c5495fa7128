"""Training clips for the recognizer: synthesized speech, a room around it, and the prompt the product would give.

A clip is what `WhisperEngine.decode` sees in the product: one utterance with a little silence
around it, at a random level, half the time under noise (a fan or hum of random colour, typing,
a small room's reverberation) at 5–30 dB SNR, and — for coding talk, as in a repository — the
glossary prompt `companion.voice.vocabulary.prompt_text` builds from a project's names.
Clips are written in shards (`clips_<k>.npz`) so building is resumable and parallel.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from companion.voice.vocabulary import prompt_text
from model_server.training.asr.speech_data import (
    RATE,
    Voice,
    random_voice,
    speakable_names,
    synthesize,
    texts,
)
from model_server.training.code_corpus import SOURCE_MODULES

SHARD = 250
MAX_SECONDS = 9.5  # a clip fits the longest window trained (10 s)


def _colored(n: int, rng: np.random.Generator, slope: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    x = np.fft.irfft(spectrum / np.maximum(f, 30.0) ** slope, n)
    return x / max(1e-9, float(np.std(x)))


def _typing(n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    decay, length = rng.uniform(20, 120), int(rng.integers(200, 700))
    t = int(rng.integers(0, RATE // 4))
    while t < n - length:
        click = rng.standard_normal(length) * np.exp(-np.arange(length) / decay)
        x[t:t + length] += rng.uniform(0.3, 1.0) * click
        t += int(RATE * rng.uniform(0.06, 0.4))
    return x / max(1e-9, float(np.std(x)))


def noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS room noise: some mix of coloured noise, mains/motor hum and typing."""
    x = _colored(n, rng, rng.uniform(0.0, 1.5)) * rng.uniform(0.3, 1.0)
    if rng.random() < 0.4:
        t = np.arange(n) / RATE
        base = rng.choice([50.0, 60.0, 90.0, 120.0])
        x += rng.uniform(0.1, 0.6) * sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6)) / k for k in (1, 2, 3))
    if rng.random() < 0.6:
        x += rng.uniform(0.3, 1.2) * _typing(n, rng)
    return (x / max(1e-9, float(np.std(x)))).astype(np.float32)


def room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small room: a random exponentially decaying impulse response (RT ~ 0.1–0.4 s)."""
    length = int(RATE * rng.uniform(0.05, 0.25))
    taps = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 5))
    taps[0] = rng.uniform(2.0, 6.0)
    wet = np.convolve(x, taps / np.sum(np.abs(taps)) * 3.0)[:len(x)]
    return (wet / max(1e-6, float(np.max(np.abs(wet)))) * float(np.max(np.abs(x)))).astype(np.float32)


def make_clip(said: str, voice: Voice, seed: int) -> tuple[np.ndarray, list[list[float]] | None]:
    """The utterance at a random level inside 0.1–0.8 s of silence, maybe reverberant and noisy,
    and where its words are in the clip (seconds; None when the voice gives no word times or the
    utterance was cut to fit)."""
    rng = np.random.default_rng(seed)
    spoken = synthesize(voice, said)
    limit = int(RATE * (MAX_SECONDS - 1.0))
    speech = spoken.samples[:limit]
    if rng.random() < 0.3:
        speech = room(speech, rng)
    lead, tail = (int(RATE * rng.uniform(0.1, 0.8)) for _ in range(2))
    x = np.concatenate([np.zeros(lead, np.float32), speech * rng.uniform(0.05, 0.7), np.zeros(tail, np.float32)])
    speech_rms = float(np.sqrt(np.mean(np.square(x[lead:lead + len(speech)]))))
    if rng.random() < 0.55:
        x = x + noise(len(x), rng) * speech_rms * 10 ** (-rng.uniform(5, 30) / 20)
    else:  # a live microphone is never digitally silent
        x = x + rng.standard_normal(len(x)).astype(np.float32) * speech_rms * 10 ** (-rng.uniform(35, 60) / 20)
    words = None
    if spoken.words is not None and len(spoken.samples) <= limit:
        words = [[round(lead / RATE + a, 3), round(lead / RATE + b, 3)] for a, b in spoken.words]
    return np.clip(x, -1, 1).astype(np.float32), words


def project_prompt(written: str, rng: random.Random) -> str:
    """A training project's glossary as the product builds it: files and names, mostly the ones spoken."""
    names = rng.sample(speakable_names(), rng.randint(8, 50))
    names += [m.split(".")[-1] + ".py" for m in rng.sample(SOURCE_MODULES, rng.randint(2, 8))]
    rng.shuffle(names)
    spoken = [w.strip(".,?") for w in written.split() if "_" in w or w.endswith(".py")]
    for word in spoken:
        if rng.random() < 0.85:
            names.append(word.removeprefix("test_") if rng.random() < 0.3 else word)
    return prompt_text(names[-60:])


def build_shard(out: Path, index: int, seed: int = 0) -> Path:
    """Write shard `index` (SHARD clips) unless it exists; the same index always gives the same clips."""
    path = out / f"clips_{index:04d}.npz"
    if path.exists():
        return path
    rng = random.Random(f"asr-clips-{seed}-{index}")
    audio, meta = [], []
    for said, written in texts(rng, SHARD):
        voice = random_voice(rng)
        coding = "_" in written or ".py" in written
        prompt = project_prompt(written, rng) if (coding and rng.random() < 0.85) or rng.random() < 0.2 else ""
        clip, words = make_clip(said, voice, rng.randrange(1 << 30))
        audio.append(clip.astype(np.float16))
        meta.append({"said": said, "written": written, "prompt": prompt, "voice": [voice.engine, voice.name],
                     "words": words})
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".clips_{index:04d}.tmp.npz"
    lengths = np.array([len(a) for a in audio])
    np.savez(tmp, audio=np.concatenate(audio), lengths=lengths, meta=json.dumps(meta))
    tmp.rename(path)
    return path


def load_shard(path: Path) -> list[tuple[np.ndarray, dict]]:
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    bounds = np.concatenate([[0], np.cumsum(data["lengths"])])
    audio = data["audio"]
    return [(audio[a:b].astype(np.float32), m) for a, b, m in zip(bounds[:-1], bounds[1:], meta)]
