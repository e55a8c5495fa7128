"""What TurnLoop keeps between turns so that nothing is lost: the recent turns (to re-prime a
session lost to a crash) and the chunk a refused request leaves for the next one."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from companion.core.chunk_budget import approx_tokens
from companion.core.clock import backlog_cap
from companion.core.protocol import CHUNK_FIELDS, Chunk

RECENT_TURNS = 24  # re-prime context after a crash: about five seconds of conversation


@dataclass(frozen=True, slots=True)
class RecentTurn:
    text: str  # the turn as the model saw it (text form) and what it answered
    files: tuple[str, ...]


class RecentTurns(deque):
    """The last RECENT_TURNS turns, and their summary within a token budget."""

    def __init__(self) -> None:
        super().__init__(maxlen=RECENT_TURNS)

    def summary(self, budget: int) -> str:
        """The newest turns that fit `budget` (approximate tokens), after one line that compacts
        the older ones (how many, which files)."""
        kept: list[str] = []
        used = 0
        turns = list(self)
        while turns and used + approx_tokens(turns[-1].text) <= budget:
            kept.insert(0, turns.pop().text)
            used += approx_tokens(kept[0])
        if turns:
            files = sorted({f for turn in turns for f in turn.files})
            names = ", ".join(f[-40:] for f in files[:4]) + (" and more" if len(files) > 4 else "")
            line = f"<|more|>{len(turns)} earlier micro-turns" + (f", files {names}" if files else "")
            if approx_tokens(line) + used <= budget:
                kept.insert(0, line)
        return "".join(kept)


def merge_chunks(held: Chunk, new: Chunk) -> Chunk:
    """One chunk covering both windows: what could not be sent waits for the next turn. The
    backlog keeps what the clock's does (newest first): a server that refuses for minutes holds
    the last 10 s of audio, not all of it (DESIGN §4: no unbounded queue); saves, jobs, words
    and typed text are kept whole up to their far larger caps."""
    return Chunk(tick=held.tick, t=held.t, ticks=new.tick + new.ticks - held.tick,
                 **{f: (getattr(held, f) + getattr(new, f))[-backlog_cap(f):]
                    for f in CHUNK_FIELDS.values()})
