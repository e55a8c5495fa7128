"""SpeechLedger: the Speaker's bookkeeping thread, from what the audio callback played to what was heard.

The callback posts tuples on a queue and does nothing else: ("tick", now, frames, latency,
underflow) each callback, ("play", device sample, segment, position, n) for each stretch of
speech handed over, ("out", device sample, samples) for the echo reference, ("cut", device
sample, segment) when stop() made a callback play zeros, and ("flush", time, segment) when
stop() aborted the stream. The ledger times every sample on the DAC (DacClock), turns played
words into SelfSpeech once their last sample was heard (at most one event per micro-turn), feeds
the echo canceller's reference, reports underruns, and reports a cut utterance once, with what
was heard and what was not.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

import numpy as np

from companion.audio.sample_clock import DacClock
from companion.core.events import MICRO_TURN_S, AudioUnderruns, Event, SelfSpeech

RATE = 16_000
CALLBACK_FRAMES = 160  # 10 ms
EMIT_EVERY = MICRO_TURN_S  # SelfSpeech granularity: one micro-turn
UNDERRUNS_EVERY = 0.25  # s: the status bar hears of underruns at most 4 times a second


class SpeechLedger:
    def __init__(self, sink: Callable[[Event], None],
                 reference: Callable[[float, np.ndarray], None] | None,
                 clock: Callable[[], float], latency: float, *, underflows: Callable[[], int],
                 speaking: Callable[[], bool], cut_unspoken: Callable[[], str]) -> None:
        self._sink, self._reference, self._clock = sink, reference, clock
        self._underflows, self._speaking, self._cut_unspoken = underflows, speaking, cut_unspoken
        self._dac = DacClock(RATE, CALLBACK_FRAMES, latency)
        self._heard: list[tuple[float, float, str]] = []  # played words not yet reported
        self._last_emit = 0.0
        self._xruns_shown, self._xruns_at = 0, float("-inf")

    def run(self, played: queue.SimpleQueue) -> None:
        """Until a None arrives on the queue."""
        while True:
            try:
                item = played.get(timeout=0.02)
            except queue.Empty:
                item = ()
            if item is None:
                return
            self._report_underruns()
            if item:
                self._take(item)
            if item and item[0] in ("flush", "cut"):
                continue
            self._emit_heard()

    def _report_underruns(self) -> None:
        n = self._underflows()
        if n != self._xruns_shown and self._clock() - self._xruns_at >= UNDERRUNS_EVERY:
            self._xruns_shown, self._xruns_at = n, self._clock()
            self._sink(AudioUnderruns(self._xruns_at, "speaker", n))

    def _take(self, item: tuple) -> None:
        kind, dac = item[0], self._dac
        if kind == "tick":
            dac.tick(*item[1:])
        elif kind == "out":
            if self._reference is not None:
                self._reference(dac.time_of(item[1]), item[2])
        elif kind == "play":
            _, first, seg, pos, n = item
            t = dac.time_of(first)
            while seg.reported < len(seg.words) and seg.words[seg.reported].end <= pos + n:
                w = seg.words[seg.reported]
                self._heard.append((t + (w.start - pos) / RATE, t + (w.end - pos) / RATE, w.text))
                seg.reported += 1
        elif kind in ("flush", "cut"):
            self._report_cut(item)
            self._heard, self._last_emit = [], self._clock()
            if kind == "flush":
                dac.restart()  # the restarted stream has a timeline of its own

    def _emit_heard(self) -> None:
        heard = self._heard
        if not heard:
            return
        now = self._clock()
        # Words in playing order; a re-aligned DAC timeline can make a later word's end time
        # earlier than its predecessor's, so take the finished prefix, never a subset.
        done = next((i for i, h in enumerate(heard) if h[1] > now), len(heard))
        ready = heard[:done]
        if ready and (now - self._last_emit >= EMIT_EVERY
                      or len(ready) == len(heard) and not self._speaking()):
            self._sink(SelfSpeech(ready[0][0], ready[-1][1], " ".join(w for _, _, w in ready)))
            self._heard, self._last_emit = heard[len(ready):], now

    def _report_cut(self, item: tuple) -> None:
        """One SelfSpeech for an utterance cut by stop(): "flush" (the stream was aborted at a
        time: what was not heard by then never was) or "cut" (the callback at a device sample
        played zeros: everything handed over before it was heard)."""
        kind, at, seg = item
        heard = self._heard
        if kind == "flush":
            end, played = at, [h for h in heard if h[1] <= at]
        else:
            end, played = self._dac.time_of(at), heard
        rest = [h[2] for h in heard if h not in played]  # cut mid-word, or still buffered
        rest += [w.text for w in seg.words[seg.reported:]] if seg is not None else []
        cut_unspoken = self._cut_unspoken()
        unspoken = " ".join(rest + ([cut_unspoken] if cut_unspoken else []))
        start = played[0][0] if played else end
        self._sink(SelfSpeech(start, end, " ".join(w for _, _, w in played), True, unspoken))
