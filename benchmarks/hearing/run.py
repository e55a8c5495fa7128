"""Drives recognizers over the benchmark streams as if in real time and measures what the user would see.

Blocks of 200 ms "arrive" at the end of their audio; a block is processed when it has arrived
and the previous one is done (a real backlog on a slow machine shows up as latency). Each
emitted UserWords gets the simulated time at which its block finished processing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.hearing.audio import RATE, Utterance
from benchmarks.hearing.scoring import Score
from companion.core.events import AudioBlock, Event, SelfSpeech, UserWords

BLOCK = 3200
_NO_DMEL = np.zeros((16, 80), np.uint8)


@dataclass
class Run:
    """One recognizer over one stream: what it emitted, when, and what it cost."""

    seconds: float
    cpu: float = 0.0
    # (finish time by the wall clock, finish time counting only the recognizer's CPU time, words)
    words: list[tuple[float, float, UserWords]] = field(default_factory=list)

    @property
    def finals(self) -> list[tuple[float, float, UserWords]]:
        return [e for e in self.words if e[2].final]

    def final_words(self) -> int:
        return sum(len(w.text.split()) for _, _, w in self.finals)


def drive(make: Callable[[Callable[[Event], None]], object], stream: np.ndarray,
          echo=None, said: list[SelfSpeech] = ()) -> Run:
    """Feed `stream` block by block to a recognizer made by `make(sink)`; `said` are the
    companion's played words, told to the recognizer as the Speaker would (0.2 s batches)."""
    events: list[Event] = []
    recognizer = make(events.append)
    run = Run(len(stream) / RATE)
    finish = finish_cpu = 0.0
    cpu = time.process_time()
    for k in range(0, len(stream), BLOCK):
        t = k / RATE
        x = stream[k:k + BLOCK]
        if hasattr(recognizer, "companion_said"):
            for e in [e for e in said if t - BLOCK / RATE < e.t_end <= t]:
                recognizer.companion_said(e)
        if echo is not None:
            x = echo(t, x)
        seen = len(events)
        wall, used = time.perf_counter(), time.process_time()
        recognizer.feed(AudioBlock(t, x, 0.0, _NO_DMEL))
        finish = max(t + BLOCK / RATE, finish) + time.perf_counter() - wall
        finish_cpu = max(t + BLOCK / RATE, finish_cpu) + time.process_time() - used
        run.words += [(finish, finish_cpu, e) for e in events[seen:] if isinstance(e, UserWords)]
    seen = len(events)
    recognizer.flush()
    run.words += [(finish, finish_cpu, e) for e in events[seen:] if isinstance(e, UserWords)]
    run.cpu = time.process_time() - cpu
    return run


@dataclass
class Metrics:
    """Accumulated over streams of phrases."""

    score: Score = field(default_factory=Score)
    latencies: list[float] = field(default_factory=list)
    cpu_latencies: list[float] = field(default_factory=list)
    partial_gaps: list[float] = field(default_factory=list)
    cpu: float = 0.0
    seconds: float = 0.0

    def add(self, run: Run, utterances: list[Utterance]) -> None:
        self.cpu += run.cpu
        self.seconds += run.seconds
        bounds = [u.start for u in utterances[1:]] + [run.seconds + 1]
        for u, next_start in zip(utterances, bounds, strict=True):
            # by the audio time of the block that produced the words, not when they came out
            mine = [e for e in run.words if u.start - 0.2 <= e[2].t < next_start - 0.2]
            finals = [e for e in mine if e[2].final]
            self.score.add(u.text, " ".join(w.text for _, _, w in finals))
            closing = [(t, tc) for t, tc, _ in finals if t >= u.end]
            if closing:
                self.latencies.append(closing[-1][0] - u.end)
                self.cpu_latencies.append(closing[-1][1] - u.end)
            partials = [w.t for _, _, w in mine if not w.final and w.t <= u.end]
            self.partial_gaps += list(np.diff(partials))

    def row(self) -> dict[str, str]:
        def spread(values: list[float]) -> str:
            v = sorted(values)
            return f"{statistics.median(v):.2f} / {v[int(0.9 * (len(v) - 1))]:.2f}" if v else "–"

        gap = statistics.median(self.partial_gaps) if self.partial_gaps else float("nan")
        return {
            "WER": f"{100 * self.score.wer:.1f}%",
            "exact": f"{100 * self.score.exact_rate:.0f}%",
            "final latency median / p90, own CPU time (s)": spread(self.cpu_latencies),
            "final latency median / p90, wall clock on the loaded machine (s)": spread(self.latencies),
            "partial gap median (s)": f"{gap:.2f}",
            "CPU s per audio s": f"{self.cpu / max(1e-9, self.seconds):.3f}",
        }
