"""Which kinds of lint finding the user's rules ask to hear about unprompted.

A save's lint result is the agent's, and most of it is style: by default (no rule about it) the
companion keeps it to itself and speaks only about clear mistakes and failing tests (the rules'
built-in default, `store.rules_prompt_text`). A rule that asks for a kind of finding in plain
words lets that kind be relayed: "Tell me when I leave a print() call in the code." asks for
prints, "Point out new TODO comments." for TODOs, "Warn me about lint and style findings." for any
finding. A rule that says not to ("Do not bother me about lint or style findings.") asks for
nothing. A save's result with no asked finding (and no clear mistake) is not shown to the model
at all (companion.model.relayable.unasked_save_lint, TurnLoop); the TUI shows it. The model still
decides whether and when an asked one is said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_KINDS = {
    "print": re.compile(r"\bprint(s|ing|\(\))?\b|\bdebug(ging)? (output|statements?|prints?)\b"),
    "todo": re.compile(r"\bto-?dos?\b|\bfixmes?\b"),
    "lint": re.compile(r"\blint(ing|er|s)?\b|\bstyle\b|\bunused\b|\bruff\b|\bpep ?8\b"),
}
# a debugging leftover is either kind
_LEFTOVERS = re.compile(r"\bleftovers?\b|\bleft(-| )over\b|\bdebug(ging)? (code|leftovers?)\b")
_DECLINED = re.compile(r"\b(don'?t|do not|never|no|not|nothing|stop|skip|ignore|without|"
                       r"keep quiet|quiet about|no need)\b")


def asked_kinds(rule_texts: Iterable[str]) -> frozenset[str]:
    """The kinds ("print", "todo": tools.lint.LEFTOVER_CODES' kinds; "lint": any finding) that
    some rule asks to be told about."""
    asked: set[str] = set()
    for text in rule_texts:
        words = text.lower().replace("\u2019", "'")
        if _DECLINED.search(words):
            continue
        kinds = {kind for kind, pattern in _KINDS.items() if pattern.search(words)}
        if not kinds and _LEFTOVERS.search(words):  # "debugging leftovers": either kind
            kinds = {"print", "todo"}
        asked |= kinds
    return frozenset(asked)
