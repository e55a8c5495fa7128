"""TurnGrammar: what the action grammar lets the model do in one micro-turn.

The model decides every turn; this only narrows the actions to those that make sense given what
the turn loop has shown it and what it did (each rule below says why):
- a relay names only results it was shown and has not said (companion.model.relayable);
- while its own utterance plays it may let it play or stop (`while_speaking`);
- a call answers a request: it is offered only while the user's newest words (said or typed)
  are under ASKED_TURNS old (not counting turns our voice plays: a request typed over a long
  remark is still open when it ends) and no call has followed them, and never in the turn after a call
  (`after_a_call`). The agent runs the on-save checks itself; calls with nothing asked re-ran
  tests over a failure being relayed (cutting the relay) and read git status on room noise
  (CompanionBench, r5: 2.8 calls a 10 minutes);
- a copied argument (remind's request) is one of the user's recent texts (`with_heard`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from companion.core.protocol import Action, Chunk
from companion.model.action_grammar import after_a_call, while_speaking, with_heard, with_relays
from companion.model.relayable import RelayableJobs

HEARD_TEXTS = 8  # finished hypotheses and typed lines a copied argument may choose from
ASKED_TURNS = 50  # 10 s: a request's call comes 0.2-1 s after its words, or after our reply


def _words(text: str) -> list[str]:
    """A hypothesis as words, without case or punctuation ("Run the tests." is "run the tests")."""
    return "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()


class TurnGrammar:
    def __init__(self, grammar: str | None, speaking: Callable[[], bool] | None = None) -> None:
        self.grammar = grammar  # the v2 action grammar; None: unconstrained (protocol 1)
        self.relays = RelayableJobs()
        # while our voice plays (or was just asked to), a turn may only let it play or stop
        self._speaking = speaking or (lambda: False)
        self._heard: deque[tuple[str, bool]] = deque(maxlen=HEARD_TEXTS)  # (words, finished)
        self._spoke_at = self._called_at = -10  # the turn after each
        self._asked_age = ASKED_TURNS  # turns since the newest words, our voice's not counted
        self._answered = True  # a call has followed the newest words

    def for_turn(self, turn: int, chunk: Chunk, shown: list[str]) -> str | None:
        """The grammar of turn number `turn` (0-based), which shows `chunk` and the relayable
        results `shown`."""
        speaking = self._speaking() or turn - self._spoke_at <= 1
        self._asked_age += not speaking
        self._note_heard(turn, chunk)
        if self.grammar is None:
            return None
        grammar = with_relays(self.grammar, self.relays.allowed(also=shown))
        if speaking:
            grammar = while_speaking(grammar)
        if turn == self._called_at or self._answered or self._asked_age >= ASKED_TURNS:
            grammar = after_a_call(grammar)
        return with_heard(grammar, [text for text, _ in self._heard])

    def decided(self, turn: int, action: Action) -> None:
        """The model's action in turn number `turn`."""
        if action.kind == "relay" and action.job:
            self.relays.relayed(action.job)
        if action.kind in ("speech", "relay"):
            self._spoke_at = turn + 1
        if action.kind == "call":
            self._called_at, self._answered = turn + 1, True

    def _note_heard(self, turn: int, chunk: Chunk) -> None:
        """The user's latest words: each finished hypothesis and typed line, and the newest
        hypothesis of the utterance still going (the partials it replaced are gone)."""
        for text, final, typed in [(w.text.strip(), w.final, False) for w in chunk.words] + [
                (t.text.strip(), True, True) for t in chunk.typed]:
            # a final that only confirms its partial asks nothing new
            if typed or not self._heard or _words(self._heard[-1][0]) != _words(text):
                self._answered, self._asked_age = False, 0
            if self._heard and not self._heard[-1][1]:
                self._heard.pop()
            self._heard.append((text, final))
