"""What a simulated session is made of: placed utterances, due replies, labelled turns, the session.

SessionSim (sessions.py) fills them; the oracle reads Spoken and Pending to label each turn, and
data.py serializes the Session's Turns as training rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from companion.core.protocol import Action, Chunk
from model_server.training.v2 import rules as rules_mod


@dataclass(slots=True)
class Spoken:
    """A user utterance placed in the session."""

    start: int  # first tick with its audio
    end: int  # last tick with its audio
    kind: str  # request|question|filler|thinking|backchannel|aside|musing|talk_over|reminder
    text: str
    meta: dict
    first_heard: int | None  # first tick a recognized word arrives (None: heard nothing)
    last_change: int | None  # last tick the recognized text changed (a final equal to it is no change)
    heard: tuple[tuple[int, str], ...] = ()  # (tick, the recognizer's whole text so far), in order


@dataclass(slots=True)
class Turn:
    chunk: Chunk
    act: Action  # the oracle's label, written by companion.core.protocol.format_output(protocol=2)
    tag: str
    needs: int  # earliest tick whose input the label depends on (-1: none)


@dataclass(slots=True)
class Session:
    prefix: str
    turns: list[Turn]
    rules: rules_mod.RuleSet


@dataclass(slots=True)
class Pending:
    due: int
    kind: str  # respond | relay_req | relay_auto | remind
    since: int  # tick of the input it answers (for Turn.needs)
    data: dict = field(default_factory=dict)
