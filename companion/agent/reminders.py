"""Reminders: the `remind` tool's job sleeps, then its result is the reminder the model relays.

The model decides when to speak everything, reminders included: the job only makes the reminder
a result at the time asked for, as a test run makes a failure one. The call carries the request
as the model heard it ("remind me in ten seconds to stand up"), which the job reads here: copying
heard words is what a small model does reliably, turning "ten seconds" into 10 is not (a model
trained to fill `seconds` itself wrote 60 for every request). A result becomes audible about
RELAY_LEAD_S after it arrives (the next micro-turn's decision, then the voice's first word), and
the request's end precedes the call by about as much again, so the result arrives that much
early to be heard on time. The interaction model's training sessions read and time reminders
with these same functions (model_server/training/v2/session_agent.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from companion.agent.tool_jobs import Outcome
from tools.registry import ToolError

RELAY_LEAD_S = 1.0  # result → audible word, plus request end → call (each about 0.4-0.6 s)
MAX_SECONDS = 86_400

_ONES = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
         "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
         "nineteen": 19, "couple": 2, "few": 3}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_UNIT_S = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600}
_NUMBER = r"(?:\d+(?:\.\d+)?|half an?|(?:a )?(?:couple|few)(?: of)?|(?:[a-z]+[ -])?[a-z]+)"
_DURATION = re.compile(rf"\b(?:in|after)\s+(?P<n>{_NUMBER})\s+(?P<unit>second|sec|minute|min|hour)s?\b", re.I)
_WHAT = re.compile(r"\bremind\s+(?:me|us)\b\s*(?:to\s+|that\s+)?(?P<what>.*)", re.I)


def _amount(words: str) -> float | None:
    """'ten' 10, 'twenty five' 25, '1.5' 1.5, 'half a' 0.5, 'a couple of' 2; None if not a number."""
    words = words.lower().replace("-", " ").strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", words):
        return float(words)
    if words.startswith("half"):
        return 0.5
    parts = [w for w in words.split() if w not in ("of",)]
    if len(parts) == 2 and parts[0] == "a" and parts[1] in ("couple", "few"):
        parts = parts[1:]
    if len(parts) == 1:
        return _TENS.get(parts[0], _ONES.get(parts[0]))
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _ONES and _ONES[parts[1]] < 10:
        return _TENS[parts[0]] + _ONES[parts[1]]
    return None


def parse_request(request: str) -> tuple[int, str]:
    """(seconds from now, what to remind) from a request as heard, e.g. "Remind me in 10
    seconds to commit this." or "in two minutes remind me to stretch"; a ToolError naming what
    was not understood otherwise."""
    text = " ".join(re.sub(r"[^\w\s'.-]", " ", request).split()).rstrip(".")
    text = re.sub(r"(\w) ?- ?(\w)", r"\1-\2", text)  # the recognizer writes "forty -five"
    found = _DURATION.search(text)
    amount = _amount(found["n"]) if found else None
    if amount is None:
        # relayed word for word: short, and the user knows what they said
        raise ToolError("I didn't catch when to remind you; say it like: in ten minutes")
    seconds = round(amount * _UNIT_S[found["unit"].lower()])
    if not 1 <= seconds <= MAX_SECONDS:
        raise ToolError(f"a reminder must be due within a day, not in {seconds} seconds")
    rest = (text[:found.start()] + " " + text[found.end():]).split()
    what = _WHAT.search(" ".join(rest))
    return seconds, (what["what"].strip(" .") if what else "")


def reminder_delay(seconds: float) -> float:
    """How long after the call the reminder's result is due."""
    return max(0.0, float(seconds) - RELAY_LEAD_S)


def reminder_summary(what: str) -> str:
    """The words relayed: "time to stand up." for what="stand up" (or "to stand up")."""
    what = " ".join(what.split()).rstrip(".!?")
    if what.lower().startswith("to "):
        what = what[3:]
    if what.lower().startswith("about "):
        return f"a reminder {what}."
    return f"time to {what}." if what else "time's up."


async def remind(args: dict, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Outcome:
    """The job: read the request, wait until the reminder is due, then return it as the result."""
    seconds, what = parse_request(args["request"])
    await sleep(reminder_delay(seconds))
    return Outcome(reminder_summary(what), {"seconds": seconds, "what": what, "request": args["request"]})
