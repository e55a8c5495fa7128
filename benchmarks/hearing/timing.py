"""Word times: how far each recognized word's start and end are from where the voice said it.

The truth is espeak-ng's own word marks (the library reports the sample each word starts at), so
only the held-out espeak-ng voices take part, on the benchmark's phrases, clean, each alone with
0.5 s of silence before it. A phrase counts when the recognizer heard as many words as were said
(word-for-word pairing needs that); how many did is printed beside the errors.
`python -m benchmarks.hearing --timing-only` prints this table for the fine-tune and the stock
weights, same audio.
"""

from __future__ import annotations

import numpy as np

from benchmarks.hearing.phrases import PHRASES
from benchmarks.heldout import HELD_OUT_VOICES
from companion.voice.asr import transcribe
from companion.voice.tts import EspeakVoice

RATE = 16_000
LEAD_SECONDS = 0.5
RATES_WPM = (150, 175)


def timed_clips(phrases: list[str]) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    """Each phrase in each held-out espeak-ng voice at each rate: audio and word (start, end) s."""
    out = []
    for engine, voice in sorted(HELD_OUT_VOICES):
        if engine != "espeak-ng":
            continue
        for wpm in RATES_WPM:
            speaker = EspeakVoice(voice=voice, rate=wpm)
            for text in phrases:
                synth = speaker.synthesize(text)
                x = np.concatenate([np.zeros(int(LEAD_SECONDS * RATE), np.float32), 0.5 * synth.samples,
                                    np.zeros(RATE, np.float32)])
                out.append((x, [(LEAD_SECONDS + w.start / RATE, LEAD_SECONDS + w.end / RATE) for w in synth.words]))
    return out


def word_time_errors(engine, clips) -> dict[str, float]:
    """Start and end errors (seconds) over the words of clips heard with the right word count."""
    starts, ends, paired = [], [], 0
    for x, truth in clips:
        words = transcribe(x, RATE, engine=engine)
        if len(words) != len(truth):
            continue
        paired += 1
        starts += [w.start - a for w, (a, _) in zip(words, truth)]
        ends += [w.end - b for w, (_, b) in zip(words, truth)]
    s, e = np.abs(starts), np.abs(ends)
    if not len(s):
        return {"phrases paired": 0.0}
    return {"phrases paired": paired / len(clips), "words": float(len(s)),
            "start error, median s": float(np.median(s)), "start error, p90 s": float(np.quantile(s, 0.9)),
            "start error, max s": float(s.max()), "starts within 0.1 s": float(np.mean(s <= 0.1)),
            "end error, median s": float(np.median(e)), "end error, p90 s": float(np.quantile(e, 0.9)),
            "ends within 0.1 s": float(np.mean(e <= 0.1)), "start bias, mean s": float(np.mean(starts))}


def timing_table(engines: dict[str, object], phrases: list[str] = PHRASES) -> str:
    clips = timed_clips(phrases)
    rows = {name: word_time_errors(engine, clips) for name, engine in engines.items()}
    keys = list(next(iter(rows.values())).keys())
    lines = [f"{len(clips)} clips: {len(phrases)} phrases x held-out espeak-ng voices x {RATES_WPM} wpm, clean\n",
             "| word times | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    lines += [f"| {k} | " + " | ".join(f"{r.get(k, float('nan')):.3f}" for r in rows.values()) + " |" for k in keys]
    return "\n".join(lines)
