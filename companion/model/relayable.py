"""RelayableJobs: the job ids a v2 relay may name this turn, for the action grammar.

A relay makes the runtime speak a job's summary verbatim, so the only ids worth naming are those
of the newest results the model has been shown that carry something to say (a result, an error, a
change awaiting confirmation, with a non-empty summary: an unchanged failure's result has none)
and that it has not relayed yet. The grammar then spells out exactly these ids, as it spells out
only registered tools: the model still decides whether and when to relay, but it can no longer
name a job that does not exist or say an old result again. The 10 M-token v2 model, offered its
last relay too (for "say that again"), relayed that one over and over: a repeat is spoken, not
relayed.

A save's lint result that the user's rules keep unsaid (`unasked_save_lint`) never reaches the
model at all (TurnLoop leaves it out of the turn), so it is never relayable either: with only
its id left out of the grammar, the shipped model spoke a garbled remark of its own about it
instead (CompanionBench, seventh session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from companion.core.chunk_budget import job_ref
from companion.core.events import JobEvent
from tools.lint import worth_saying

RELAYABLE_PHASES = ("result", "error", "needs_confirmation")
KEPT = 4  # the newest unsaid results offered; older ones are stale by then


def unasked_save_lint(asked: Callable[[], Iterable[str]]) -> Callable[[JobEvent], bool]:
    """Whether a job event is a save's lint result none of whose new findings is a clear mistake
    or of a kind the rules ask for (`asked()`: companion.rules.asked_findings): the agent's panel
    shows it; the conversation keeps it unsaid."""
    def unsaid(event: JobEvent) -> bool:
        return (event.tool == "lint" and event.phase == "result" and event.data.get("origin") == "save"
                and bool(event.summary) and not worth_saying(event.data.get("new_codes", ()), asked()))
    return unsaid


class RelayableJobs:
    def __init__(self) -> None:
        self._unsaid: dict[str, None] = {}  # insertion-ordered set, oldest first

    @staticmethod
    def refs_in(jobs: Iterable[JobEvent]) -> list[str]:
        """The relayable references among a turn's job events."""
        return [ref for e in jobs if e.phase in RELAYABLE_PHASES and e.summary.strip()
                and (ref := job_ref(e.job_id))]

    def allowed(self, also: Iterable[str] = ()) -> list[str]:
        """The ids a relay may name now: the newest KEPT unsaid results (with `also`, this
        turn's)."""
        unsaid = dict(self._unsaid)
        for ref in also:
            unsaid.pop(ref, None)
            unsaid[ref] = None
        return list(unsaid)[-KEPT:]

    def saw(self, refs: Iterable[str]) -> None:
        """These results reached the model (a newer result of a job replaces its older one)."""
        for ref in refs:
            self._unsaid.pop(ref, None)
            self._unsaid[ref] = None
        while len(self._unsaid) > KEPT:
            self._unsaid.pop(next(iter(self._unsaid)))

    def relayed(self, ref: str) -> None:
        self._unsaid.pop(ref, None)
