"""The companion's own voice in a simulated session: real TTS word spans, SelfSpeech, mic echo.

An utterance decided in turn k starts playing at the start of tick k+1 (the Speaker starts within
the next window). Which words were played in a tick comes from espeak-ng's word spans, as the
Speaker reports them; a stop cuts playback at the next tick boundary, reporting the word in
progress with `interrupted` and the rest as `unspoken`. The same samples, attenuated to a residual
echo level, leak into the microphone signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from companion.core.events import SelfSpeech
from companion.streams.dmel import BLOCK, SAMPLE_RATE
from companion.voice.speech_text import speakable
from companion.voice.tts import EspeakVoice, Synthesis

COMPANION_VOICE = "en-us"  # the Speaker's default EspeakVoice (a training voice, never held out)


@lru_cache(maxsize=4096)
def companion_speech(text: str) -> Synthesis:
    return EspeakVoice(voice=COMPANION_VOICE, sample_rate=SAMPLE_RATE).synthesize(speakable(text))


@dataclass(slots=True)
class Playback:
    """One utterance of the companion from tick `start` on; `cut` is the tick it was stopped at."""

    start: int
    text: str
    synthesis: Synthesis
    echo_gain: float
    cut: int | None = None
    reported: int = 0  # words already reported as SelfSpeech
    stop_at: dict[int, int] = field(default_factory=dict)  # talk-over start tick -> its stop turn

    @property
    def end(self) -> int:
        """The last tick with audio (cut or not)."""
        natural = self.start + (len(self.synthesis.samples) - 1) // BLOCK
        return natural if self.cut is None else min(natural, self.cut - 1)

    def playing_at(self, k: int) -> bool:
        return self.start <= k <= self.end

    def echo(self, k: int) -> np.ndarray | None:
        """The echo samples of tick k, or None when nothing plays then."""
        if not self.playing_at(k):
            return None
        lo = (k - self.start) * BLOCK
        seg = self.synthesis.samples[lo:lo + BLOCK]
        out = np.zeros(BLOCK, np.float32)
        out[:len(seg)] = seg * self.echo_gain
        return out

    def self_speech(self, k: int, t: float) -> SelfSpeech | None:
        """What the Speaker reports for tick k (words finished by its end, or the cut)."""
        words = self.synthesis.words
        if self.cut is not None and k == self.cut and self.reported < len(words):
            rest = [w.text for w in words[self.reported:]]
            limit = (k - self.start) * BLOCK
            done = [w.text for w in words[self.reported:] if w.end <= limit]
            self.reported = len(words)
            return SelfSpeech(t, t, " ".join(done), True, " ".join(rest[len(done):]))
        if not self.playing_at(k) or self.reported >= len(words):
            return None
        limit = (k - self.start + 1) * BLOCK
        done = []
        while self.reported < len(words) and words[self.reported].end <= limit:
            done.append(words[self.reported].text)
            self.reported += 1
        return SelfSpeech(t, t + 0.2, " ".join(done)) if done else None

    @property
    def duration_s(self) -> float:
        return len(self.synthesis.samples) / SAMPLE_RATE
