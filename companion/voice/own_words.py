"""OwnWords: what the companion itself just said, so the recognizer does not pass its echo off as the user's.

The echo canceller removes most of the companion's voice from the mic, but not all of it on a
busy machine or a laptop's speakers, and Whisper turns the residue into fluent words. A
hypothesis whose words were mostly (≥ 60 %) played by the companion while the utterance
window was open is that residue. The user's own words during or after the companion's speech
differ from what it played and pass; so do words the companion said outside the window.
A residue that Whisper turns into other words ("thank you") is caught by the second rule:
while the companion played, a decode must be confident (average log-probability ≥ -0.5;
measured on the loopback: residue -0.55 to -1.6, the user's clear speech about -0.25).
For the first WARMUP_S of the companion's playback the echo canceller has not converged (it
starts from nothing), its residue is loud and Whisper respells it more ("test bar scanner" for
"test parse header", half its letters in common, at -0.46): then a hypothesis is echo from
WARMUP_SHARE of its letters on. A word cut by a stop counts as played: its start was ("No
chain." came back as the user's words after a stop cut "no changes" inside "changes").
"""

from __future__ import annotations

import re
import threading
from collections import deque
from difflib import SequenceMatcher

from companion.core.events import SelfSpeech

KEEP_S = 15.0  # how long played words are remembered
SLACK_S = 0.5  # the echo reaches the mic a little after the DAC time
ECHO_SHARE = 0.6
WARMUP_S = 2.0
WARMUP_SHARE = 0.4
MIN_RUN = 3  # letters: shorter runs in common are chance ("stop" in "imports in stats")
CONFIDENT_LOGPROB = -0.5  # while the companion plays, only a confident decode is the user


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


class OwnWords:
    """Thread-safe record of played words (from SelfSpeech events) and the echo test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._played: deque[tuple[float, float, list[str]]] = deque()
        self._first: float | None = None  # when the companion's first played word began

    def heard(self, event: SelfSpeech) -> None:
        """The companion played `event.text` between `event.t` and `event.t_end`, and, when a
        stop cut it there, may have played the start of the first unspoken word."""
        words = _words(event.text) + (_words(event.unspoken)[:1] if event.interrupted else [])
        if not words:
            return
        with self._lock:
            if self._first is None:
                self._first = event.t
            self._played.append((event.t, event.t_end, words))
            while self._played and self._played[0][1] < event.t_end - KEEP_S:
                self._played.popleft()

    def played_near(self, start: float, end: float) -> list[str]:
        """The words the companion played from just before `start` to `end`, in order."""
        with self._lock:
            return [w for t, t_end, words in self._played if t_end >= start - SLACK_S and t <= end for w in words]

    def is_echo(self, text: str, avg_logprob: float, start: float, end: float) -> bool:
        """Whether `text` (decoded with `avg_logprob`), heard in [start, end], is the companion's
        echo: mostly words it played then, or an unconfident decode while it played."""
        heard = _words(text)
        if not heard:
            return False
        played = self.played_near(start, end)
        if not played:
            return False
        warming = self._first is not None and start < self._first + WARMUP_S
        share = WARMUP_SHARE if warming else ECHO_SHARE
        return echo_share(heard, played) >= share or avg_logprob < CONFIDENT_LOGPROB


def echo_share(heard: list[str], played: list[str]) -> float:
    """The share of the heard letters found, in order and in runs of ≥ MIN_RUN, in the played
    words: Whisper respells echo residue ("testrunner time doubt" for "test runner timed out")
    but keeps its letters in order."""
    a, b = "".join(heard), "".join(played)
    if not a:
        return 0.0
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return sum(m.size for m in blocks if m.size >= MIN_RUN) / len(a)
