"""What the interaction model must never train on: the voices and code the benchmarks judge it with.

Training code (model_server/training/) asserts it uses none of these; the benchmark reports
name them as "never seen in training". A voice is (engine, voice name) as the TTS engine
spells it: espeak-ng voice names with an optional "+variant", flite's -voice names.
"""

from __future__ import annotations

# Voices the benchmarks speak with (CompanionBench, the hearing benchmark).
HELD_OUT_VOICES: frozenset[tuple[str, str]] = frozenset({
    ("flite", "slt"),
    ("flite", "rms"),
    ("espeak-ng", "en-gb-scotland+m3"),
    ("espeak-ng", "en-us+f4"),
})

# Voices training may use (disjoint from the above; checked by a test).
TRAINING_VOICES: frozenset[tuple[str, str]] = frozenset({
    ("flite", "kal16"),
    ("flite", "awb"),
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-us+m3"),
    ("espeak-ng", "en-us+f2"),
    ("espeak-ng", "en"),
    ("espeak-ng", "en+m1"),
    ("espeak-ng", "en-029+f3"),
})

# Code the benchmarks use: CompanionBench's scenario projects live under this directory;
# training must never read from it.
HELD_OUT_CODE_DIRS: tuple[str, ...] = ("benchmarks/companion_bench/scenarios",)

assert not HELD_OUT_VOICES & TRAINING_VOICES, "a voice is both held out and trained on"
