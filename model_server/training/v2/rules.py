"""The rule kinds the oracle honours, and natural-language ways a user writes them in the prefix.

Kinds (documented in ORACLE.md): speak up or keep quiet about new test failures; about tests
passing again; how often to speak unprompted (a cooldown); how briefly (no acknowledgements,
shortest answers); what to point out in a save (a debugging leftover: a print call, a TODO). Requested results are always answered; rules shape only what is unprompted
and how long replies are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleSet:
    failures: bool = True  # speak up about new failing tests
    recoveries: bool = True  # say when a failing test passes again
    cooldown_s: int = 0  # at least this long between unprompted remarks
    brief: bool = False  # no acknowledgements; shortest answers
    leftovers: tuple[str, ...] = ()  # point out these leftovers in a save (leftovers.KINDS)


_TEXTS = {
    ("failures", True): ("Tell me right away when a test starts failing.",
                         "Speak up about new test failures.", "Let me know when I break a test."),
    ("failures", False): ("Keep quiet about test failures; I'll check the jobs panel myself.",
                          "Don't announce failing tests unless I ask.",
                          "No unprompted remarks about test results."),
    ("recoveries", True): ("Tell me when a failing test passes again.",
                           "Say so when a broken test is fixed."),
    ("recoveries", False): ("Don't tell me when tests pass again.",
                            "No need to announce fixed tests."),
    ("brief", True): ("Be brief: no acknowledgements, shortest answers.",
                      "Keep it short. Don't say okay.", "Terse replies only."),
}
_COOLDOWN = {30: ("At most one remark every thirty seconds.", "Don't speak up more than twice a minute."),
             60: ("At most one unprompted remark per minute.", "Speak up at most once a minute.")}
# CompanionBench's rule ("Tell me when I leave a print() call in the code.") is not among these
_LEFTOVER_TEXTS = {
    "print": ("Point out print statements I forget to remove.", "Warn me about leftover debug prints.",
              "Say something if I add print() calls.", "Tell me if I leave prints in."),
    "todo": ("Tell me when I add a TODO comment.", "Point out new TODO comments.",
             "Mention any TODO I write."),
}
_FILLER = ("Never commit without asking.", "I like short function names.", "Quiet hours are off.")


def sample_rules(rng: random.Random) -> RuleSet:
    """Mostly the defaults; each kind changed often enough that the model learns to read it."""
    leftovers = tuple(k for k in _LEFTOVER_TEXTS if rng.random() < 0.4)
    return RuleSet(failures=rng.random() > 0.2, recoveries=rng.random() > 0.25,
                   cooldown_s=rng.choice((0, 0, 0, 30, 60)), brief=rng.random() < 0.2,
                   leftovers=leftovers)


def render(rules: RuleSet, rng: random.Random) -> str:
    """The rules section of the prefix: every non-default kind, some defaults restated, filler."""
    lines = []
    for kind, default in (("failures", True), ("recoveries", True), ("brief", False)):
        value = getattr(rules, kind)
        if value != default or (value and rng.random() < 0.3):
            lines.append(rng.choice(_TEXTS[(kind, value)]))
    lines += [rng.choice(_LEFTOVER_TEXTS[kind]) for kind in rules.leftovers]
    if rules.cooldown_s:
        lines.append(rng.choice(_COOLDOWN[rules.cooldown_s]))
    if rng.random() < 0.5:
        lines.append(rng.choice(_FILLER))
    rng.shuffle(lines)
    return "Rules:\n" + "\n".join(f"- {ln}" for ln in lines) if lines else "Rules: none."
