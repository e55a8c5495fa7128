"""Reminders: the `remind` tool's job sleeps, then its result is the reminder the model relays.

The model decides when to speak everything, reminders included: the job only makes the reminder
a result at the time asked for, as a test run makes a failure one. A result becomes audible
about RELAY_LEAD_S after it arrives (the next micro-turn's decision, then the voice's first
word), and the request's end precedes the call by about as much again, so the result arrives
that much early to be heard on time. The interaction model's training sessions time reminders
with these same functions (model_server/training/v2/session_agent.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from companion.agent.tool_jobs import Outcome

RELAY_LEAD_S = 1.0  # result → audible word, plus request end → call (each about 0.4-0.6 s)


def reminder_delay(seconds: float) -> float:
    """How long after the call the reminder's result is due."""
    return max(0.0, float(seconds) - RELAY_LEAD_S)


def reminder_summary(what: str) -> str:
    """The words relayed: "time to stand up." for what="stand up" (or "to stand up")."""
    what = " ".join(what.split()).rstrip(".!?")
    if what.lower().startswith("to "):
        what = what[3:]
    return f"time to {what}." if what else "time's up."


async def remind(args: dict, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Outcome:
    """The job: wait until the reminder is due, then return it as the result."""
    await sleep(reminder_delay(args["seconds"]))
    return Outcome(reminder_summary(args["what"]), {"seconds": args["seconds"], "what": args["what"]})
