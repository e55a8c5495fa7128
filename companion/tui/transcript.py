"""Turns the runtime's events into conversation entries: live words, utterances, cards."""

from __future__ import annotations

from dataclasses import dataclass

from companion.core.events import (
    Event,
    JobEvent,
    ModelTurn,
    RulesChanged,
    ScreenError,
    SelfSpeech,
    StreamState,
    UserWords,
)
from companion.tui.widgets.transcript_line import Entry

REPLY_WINDOW_S = 4.0  # companion speech this soon after the user spoke or typed is a reply
UTTERANCE_GAP_S = 2.0  # a longer pause in the companion's speech starts a new utterance
CARD_PHASES = ("result", "error", "cancelled", "needs_confirmation")
STREAM_NAMES = {"audio": "mic", "screen": "screen", "files": "file watch", "model": "model",
                "speaker": "voice", "asr": "speech recognition", "agent": "agent"}


@dataclass(frozen=True, slots=True)
class Change:
    entry: Entry
    new: bool  # False: an existing entry was updated in place


class Transcript:
    """The conversation as entries; `apply` says which entries are new and which changed.

    The companion's words come from the model's speech turns (what it decided to say) and from
    SelfSpeech (what its voice actually played): both grow one utterance, and an interrupted
    SelfSpeech marks the unspoken rest as cut off. A new utterance the model decides (speech or
    relay) after the user spoke or typed starts a new entry, below the user's line: an answer
    never joins the remark that was playing when the user asked.
    """

    def __init__(self, t0: float = 0.0) -> None:
        self.t0 = t0
        self._user: Entry | None = None  # the user's partial words, until final
        self._speech: Entry | None = None  # the companion's open utterance
        self._speech_t = float("-inf")
        self._speech_began = float("-inf")  # when the open utterance's entry was made
        self._user_t = float("-inf")

    def typed(self, t: float, text: str) -> Change:
        self._user_t = t
        return Change(Entry(t - self.t0, "typed", text), True)

    def note(self, t: float, text: str, kind: str = "system") -> Change:
        return Change(Entry(t - self.t0, kind, text), True)

    def apply(self, event: Event) -> list[Change]:
        if isinstance(event, UserWords):
            return self._words(event)
        if isinstance(event, ModelTurn):
            if event.action in ("speech", "relay") and self._user_t > self._speech_began:
                self._speech = None  # the user spoke since this utterance began: a new one
            if event.action == "speech" and event.text.strip():
                return self._say(event.t, event.text, voiced=False)
            if event.action == "stop" and self._speech is not None:
                self._speech = None
            return []
        if isinstance(event, SelfSpeech):
            return self._voiced(event)
        if isinstance(event, JobEvent) and event.phase in CARD_PHASES:
            card = {"tool": event.tool, "summary": event.summary, "data": event.data,
                    "phase": event.phase, "job_id": event.job_id}
            return [Change(Entry(event.t - self.t0, "tool", event.summary or event.phase,
                                 card=card), True)]
        if isinstance(event, ScreenError):
            return [Change(Entry(event.t - self.t0, "tool", event.summary, card=screen_card(event)),
                           True)]
        if isinstance(event, RulesChanged):
            if event.error:
                return [self.note(event.t, f"rules file invalid; previous rules kept:\n"
                                           f"{event.error}", "error")]
            return [self.note(event.t, f"rules loaded from {event.source}")]
        if isinstance(event, StreamState) and event.stream in STREAM_NAMES:
            if event.status in ("unavailable", "degraded"):
                reason = f": {event.reason}" if event.reason else ""
                return [self.note(event.t, f"{STREAM_NAMES[event.stream]} {event.status}{reason}")]
        return []

    def _words(self, event: UserWords) -> list[Change]:
        self._user_t = event.t
        if self._user is None:
            self._user = Entry(event.t - self.t0, "user", event.text, final=event.final)
            change = Change(self._user, True)
        else:
            self._user.text, self._user.final = event.text, event.final
            change = Change(self._user, False)
        if event.final:
            self._user = None
        return [change]

    def _say(self, t: float, text: str, voiced: bool) -> list[Change]:
        entry = self._speech
        if entry is None or t - self._speech_t > UTTERANCE_GAP_S:
            kind = "companion" if t - self._user_t <= REPLY_WINDOW_S else "interjection"
            entry = self._speech = Entry(t - self.t0, kind, text.strip(),
                                         spoken_words=0 if voiced else None)
            self._speech_t = self._speech_began = t
            if voiced:
                entry.spoken_words = len(entry.text.split())
            return [Change(entry, True)]
        self._speech_t = t
        entry.text = f"{entry.text} {text.strip()}".strip()
        return [Change(entry, False)]

    def _voiced(self, event: SelfSpeech) -> list[Change]:
        entry = self._speech
        words = event.text.split()
        if entry is None or event.t - self._speech_t > UTTERANCE_GAP_S:
            changes = self._say(event.t, event.text, voiced=True) if words else []
            entry = self._speech
        else:
            self._speech_t = max(self._speech_t, event.t)
            said = (entry.spoken_words or 0) + len(words)
            if said > len(entry.text.split()):  # the voice got ahead of the model's turns
                entry.text = " ".join(entry.text.split()[:entry.spoken_words or 0] + words)
            entry.spoken_words = said
            changes = [Change(entry, False)]
        if event.interrupted and entry is not None:
            planned = entry.text.split()
            entry.spoken_words = min(entry.spoken_words or 0, len(planned))
            rest = " ".join(planned[entry.spoken_words:])
            entry.text = " ".join(planned[:entry.spoken_words])
            entry.unspoken, entry.cut = (event.unspoken or rest).strip(), True
            self._speech = None
            if not changes:
                changes = [Change(entry, False)]
        return changes


def screen_card(event: ScreenError) -> dict:
    """An error read on screen as a result card (open, marked ✗): where, what, in which window."""
    where = {"file": event.file, "line": event.line} if event.file else {"file": event.window or "screen"}
    failure = {**where, "test": event.window or event.language, "exception": event.exception,
               "message": event.message}
    return {"tool": "screen", "summary": event.summary or f"{event.exception} {event.message}",
            "data": {"failures": [failure]}, "phase": "error", "job_id": ""}
