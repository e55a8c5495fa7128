"""What a protocol-2 action says: the job summaries a relay speaks, and the cap on the model's words.

A relay (`<|relay|>j3`) speaks the agent's composed summary of job 3 verbatim, so facts (test
names, lines, values) come from the agent and are never garbled by the model. The model's own
words (`<|speak|>`) are one whole short utterance, capped here whatever the server returned.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from companion.core.action import MAX_SPEAK_WORDS
from companion.core.events import JobEvent
from companion.core.protocol import job_ref

log = logging.getLogger("companion.rules.utterances")

MAX_SPEAK_CHARS = 200  # the grammar allows 24 words of up to 20 characters; speech stays short
KEPT_JOBS = 64  # relays name recent jobs; older summaries are forgotten


def cap_utterance(text: str) -> str:
    """At most MAX_SPEAK_WORDS words and MAX_SPEAK_CHARS characters, cut at a word."""
    words = text.split()[:MAX_SPEAK_WORDS]
    out = " ".join(words)
    if len(out) > MAX_SPEAK_CHARS:
        out = out[:MAX_SPEAK_CHARS].rsplit(" ", 1)[0]
    return out


class JobSummaries:
    """The latest spoken summary of each recent job, by the reference the model sees (`j3`)."""

    def __init__(self, keep: int = KEPT_JOBS) -> None:
        self._keep = keep
        self._by_ref: OrderedDict[str, str] = OrderedDict()

    def remember(self, event: JobEvent) -> None:
        ref = job_ref(event.job_id)
        if not ref or not event.summary.strip():
            return
        self._by_ref.pop(ref, None)
        self._by_ref[ref] = event.summary.strip()
        while len(self._by_ref) > self._keep:
            self._by_ref.popitem(last=False)

    def relay_text(self, ref: str) -> str:
        """The summary to speak for a relay of `ref`; '' (and a log line) when it is unknown."""
        text = self._by_ref.get(ref, "")
        if not text:
            log.warning("relay of %s ignored: no job with that id and a summary (known: %s)",
                        ref, ", ".join(self._by_ref) or "none")
        return text
