"""Speech for fine-tuning the recognizer: coding talk in many synthetic voices, never the held-out ones.

Text comes from three places, none of them the hearing benchmark's phrases (checked here):
- coding talk from templates filled with the training code corpus's names (standard-library
  modules and their functions, as files, tests and functions of a project);
- every line the interaction model's simulated developer says (`v2.lines.SPOKEN_LINES`);
- the first sentences of standard-library docstrings, so the recognizer keeps plain English.
Voices are espeak-ng accents × variants at random speed and pitch, and flite's two training voices;
the benchmarks' voices are excluded, and so are their accent (Scottish) and variants (m3, f4)
altogether, and the companion's own default voice (espeak-ng en-us): the recognizer should not
learn to hear best the voice whose echo it must ignore. Noise (fan, hum, typing, a small room)
is this module's own, not the benchmark's.
"""

from __future__ import annotations

import importlib
import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from benchmarks.hearing.phrases import COMPANION_LINES, PHRASES
from benchmarks.hearing.scoring import spoken_form
from benchmarks.heldout import HELD_OUT_VOICES
from companion.streams.audio import read_wav_16k
from companion.voice.tts import DEFAULT_VOICE, EspeakVoice
from model_server.training.code_corpus import SOURCE_MODULES, all_functions
from model_server.training.v2.lines import SPOKEN_LINES

RATE = 16_000
ESPEAK_ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
ESPEAK_VARIANTS = ("", "m1", "m2", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f5", "klatt", "klatt2",
                   "klatt3", "klatt4", "Alex", "Annie", "Andy", "Belinda", "Boris", "David", "Ed",
                   "Gene", "Jacky", "Lee", "Linda", "Mike", "Paul", "Robert", "Steph", "Storm", "Zac",
                   "grandpa", "grandma", "norbert", "travis", "victor", "shelby", "Quincy", "Michael")
FLITE_VOICES = ("kal16", "awb", "kal", "awb_time")
HELD_OUT_ACCENTS = ("en-gb-scotland",)
HELD_OUT_VARIANTS = ("m3", "f4")
COMPANION_VOICE = ("espeak-ng", DEFAULT_VOICE)

TEMPLATES = (
    "run the tests for {module}", "run {test}", "why is {test} failing", "did {test} pass this time",
    "what changed in {file}", "show me the diff for {file}", "lint {file} please", "open {file}",
    "who last touched {file}", "git blame {file} around line {n}", "where is {function} defined",
    "what does {function} return", "{function} breaks when the input is empty",
    "I think {function} has an off by one", "rename {function} to {other}",
    "add a test for {function}", "run only the {module} tests", "skip {test} for now",
    "the bug is in {function} line {n}", "look at line {n} of {file}", "commit {file}",
    "commit with message fix {function}", "commit with message update {module} tests",
    "revert my change to {file}", "stash this and switch to {branch}", "create a branch called {branch}",
    "snooze for {n} minutes", "mute for {n} minutes", "remind me in {n} minutes to check {module}",
    "{test} failed with an assertion error", "is {function} called anywhere else",
    "explain the traceback in {file}", "run pytest with dash k {function}", "run ruff on {file}",
    "format {file} with ruff", "show me the last {n} commits", "how long did {test} take",
    "what is the expected value in {test}", "compare {function} and {other}",
)
BRANCHES = ("main", "develop", "cleanup", "fix parser", "feature flags", "release", "docs")
NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "fifteen", "twenty", "thirty", "forty two", "ninety")
_QUESTION = re.compile(r"^(what|why|who|where|when|how|is|are|did|does|do|can|could|which|would)\b")


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str  # espeak-ng | flite
    name: str  # espeak-ng "accent+variant" or a flite voice
    speed: int = 160  # espeak-ng words per minute
    pitch: int = 50  # espeak-ng 0..99


def training_voices() -> list[tuple[str, str]]:
    """Every (engine, name) this fine-tuning may speak with; none held out, none near one, not
    the companion's own."""
    voices = [("espeak-ng", a + (f"+{v}" if v else "")) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    voices += [("flite", v) for v in FLITE_VOICES]
    voices.remove(COMPANION_VOICE)
    for engine, name in voices:
        accent, _, variant = name.partition("+")
        if (engine, name) in HELD_OUT_VOICES or accent in HELD_OUT_ACCENTS or variant in HELD_OUT_VARIANTS:
            raise AssertionError(f"{engine} {name} is a held-out voice or too close to one")
    return voices


def random_voice(rng: random.Random) -> Voice:
    engine, name = rng.choice(training_voices())
    return Voice(engine, name, rng.randint(130, 190), rng.randint(30, 70))


@dataclass(frozen=True, slots=True, eq=False)
class Spoken:
    """16 kHz float32 speech (peak 1.0) and, for espeak-ng, each word's [start, end) in seconds."""

    samples: np.ndarray
    words: tuple[tuple[float, float], ...] | None


def synthesize(voice: Voice, text: str) -> Spoken:
    """The text in `voice`. espeak-ng runs as the product's library binding, which reports where
    each word is (its samples can differ slightly run to run: the library keeps state between
    calls); flite runs as its command line and gives no word times."""
    if voice.engine == "espeak-ng":
        synth = EspeakVoice(voice=voice.name, rate=voice.speed, pitch=voice.pitch, sample_rate=RATE).synthesize(text)
        x, words = synth.samples, tuple((w.start / RATE, w.end / RATE) for w in synth.words)
    else:
        with tempfile.NamedTemporaryFile(suffix=".wav") as out:
            cmd = ["flite", "-voice", voice.name, "-t", text, "-o", out.name]
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
            x, words = read_wav_16k(out.name), None
    return Spoken((x / max(1e-6, float(np.max(np.abs(x))))).astype(np.float32), words)


def _spoken(name: str) -> str:
    return name.replace("_", " ").strip()


def _heldout_forms() -> set[str]:
    return {_norm(p) for p in PHRASES + COMPANION_LINES}


def _norm(text: str) -> str:
    """The hearing benchmark's own spoken form, so "parser.py" and "parser dot py" are one line."""
    return " ".join(spoken_form(text))


@lru_cache(maxsize=1)
def speakable_names() -> list[str]:
    """Training functions' names a voice can say and a listener could spell: word-like parts only."""
    vowels = set("aeiouy")
    return [f.name for f in all_functions() if len(f.name) <= 30
            and all(len(p) >= 3 and vowels & set(p) for p in f.name.split("_"))]


def coding_talk(rng: random.Random) -> tuple[str, str]:
    """(what is said, what is written) for one templated request about a training project."""
    fn, other = rng.choice(speakable_names()), rng.choice(speakable_names())
    module = rng.choice(SOURCE_MODULES).split(".")[-1]
    slots = {"function": fn, "other": other, "module": module, "file": f"{module}.py",
             "test": f"test_{fn}", "n": rng.choice(NUMBER_WORDS), "branch": rng.choice(BRANCHES)}
    template = rng.choice(TEMPLATES)
    written = template.format(**slots)
    said = template.format(**{k: _spoken(v).replace(".py", " dot py") for k, v in slots.items()})
    return said, written


def docstring_sentences() -> list[str]:
    """First sentences of standard-library docstrings: 4–18 plain words each."""
    out: dict[str, None] = {}
    for name in SOURCE_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(module).values():
            doc = getattr(value, "__doc__", None) if callable(value) else None
            if not isinstance(doc, str):
                continue
            first = re.split(r"(?<=[.!?])\s|\n\s*\n", doc.strip(), maxsplit=1)[0]
            first = " ".join(first.split()).rstrip(".")
            if re.fullmatch(r"[A-Za-z ,']+", first) and 4 <= len(first.split()) <= 18:
                out[first] = None
    return list(out)


def written_form(said: str) -> str:
    """The label for a line written as a person types it: capitalized, with its end mark."""
    text = said.strip()
    mark = "?" if _QUESTION.match(text.lower()) else "."
    first = text.split(" ", 1)[0]
    if "_" in first or first.endswith(".py"):  # an identifier keeps its case
        return text + mark
    return text[:1].upper() + text[1:] + mark


def texts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """`n` (said, written) pairs: half coding talk, a quarter the developer's lines, a quarter prose."""
    lines, prose, heldout = list(SPOKEN_LINES), docstring_sentences(), _heldout_forms()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        kind = rng.random()
        if kind < 0.5:
            said, written = coding_talk(rng)
        elif kind < 0.75:
            said = written = rng.choice(lines)
        else:
            said = written = rng.choice(prose)
        if _norm(said) not in heldout:
            out.append((said, written_form(written)))
    return out
