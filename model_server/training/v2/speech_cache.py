"""Fills the speech cache: every spoken line in a few training voices, synthesized and recognized.

    python -m model_server.training.v2.speech_cache

Short lines (backchannels, fillers) get every training voice; the others a seeded choice of
`VOICES_PER_LINE`, which bounds the recognizer's time (about 2 s per utterance on one core).
"""

from __future__ import annotations

import random
import sys

from benchmarks.heldout import TRAINING_VOICES
from model_server.training.v2.lines import BACKCHANNELS, FILLERS, SPOKEN_LINES
from model_server.training.v2.speech import utterance

VOICES_PER_LINE = 3
LEVELS_DB = (-26.0, -20.0)


def voices_for(text: str) -> list[tuple[str, str]]:
    voices = sorted(TRAINING_VOICES)
    if text in BACKCHANNELS or text in FILLERS:
        return voices
    return random.Random(text).sample(voices, VOICES_PER_LINE)


def level_for(voice: tuple[str, str], text: str) -> float:
    return LEVELS_DB[random.Random(f"{voice}{text}").randrange(len(LEVELS_DB))]


def main() -> int:
    total = sum(len(voices_for(t)) for t in SPOKEN_LINES)
    done = 0
    for text in SPOKEN_LINES:
        for voice in voices_for(text):
            utterance(voice, text, level_for(voice, text))
            done += 1
        print(f"{done}/{total} utterances", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
