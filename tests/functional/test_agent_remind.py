"""The remind tool: a real BackgroundAgent job that becomes the reminder, as a result, on time,
without holding a slot the tests need."""

from __future__ import annotations

import asyncio
import time

import pytest

from benchmarks.sample_project import make_sample_project
from companion.agent.background import BackgroundAgent
from companion.agent.reminders import RELAY_LEAD_S, parse_request, reminder_delay, reminder_summary
from companion.core.events import JobEvent
from tools.registry import CallError, ToolError


@pytest.fixture
async def agent(tmp_path):
    events: list[JobEvent] = []
    made = BackgroundAgent(make_sample_project(tmp_path / "proj"), events.append, max_concurrent=1,
                           warm_tests=False)
    made.events_seen = events
    yield made
    await made.aclose()


async def test_a_reminder_is_a_result_due_early_by_the_relay_lead(agent):
    t0 = time.monotonic()
    job = agent.submit_call('{"tool": "remind", "args": {"request": "Remind me in 2 seconds to stand up."}}', {})
    assert await agent.wait(job) == "done"
    took = time.monotonic() - t0
    assert 2 - RELAY_LEAD_S - 0.05 <= took < 2 - RELAY_LEAD_S + 0.5
    result = [e for e in agent.events_seen if e.job_id == job][-1]
    assert (result.phase, result.summary) == ("result", "time to stand up.")
    assert result.data["seconds"] == 2 and result.data["what"] == "stand up"


async def test_a_waiting_reminder_does_not_hold_up_the_tests(agent):
    remind = agent.submit_call('{"tool": "remind", "args": {"request": "in thirty seconds remind me to push"}}', {})
    tests = agent.submit_call('{"tool": "tests", "args": {"scope": "all"}}', {})
    assert await asyncio.wait_for(agent.wait(tests), 60) == "done"  # one slot, and the tests got it
    assert agent.cancel(remind)
    assert await agent.wait(remind) == "cancelled"


async def test_a_reminder_needs_a_request_and_one_without_a_time_is_a_clear_error(agent):
    with pytest.raises(CallError):
        agent.registry.parse_call('{"tool": "remind", "args": {"seconds": 10}}')
    job = agent.submit_call('{"tool": "remind", "args": {"request": "remind me to stretch"}}', {})
    assert await agent.wait(job) == "error"
    error = [e for e in agent.events_seen if e.job_id == job][-1]
    # said word for word by the companion: short, with how to say it
    assert error.summary == "I didn't catch when to remind you; say it like: in ten minutes"
    assert len(error.summary.split()) <= 14


@pytest.mark.parametrize(("request_text", "seconds", "what"), [
    ("remind me in ten seconds to commit this", 10, "commit this"),
    ("Remind me in 15 seconds to check the logs.", 15, "check the logs"),
    ("In two minutes, remind me to stretch.", 120, "stretch"),
    ("Remind me to call Sam back in twenty-five seconds?", 25, "call Sam back"),
    ("remind me in half an hour to eat lunch", 1800, "eat lunch"),
    ("remind me in a couple of minutes about the build", 120, "about the build"),
    ("remind me in 1.5 minutes to rest", 90, "rest"),
    ("Remind me in forty -five seconds to run the bench marks.", 45, "run the bench marks"),
])
def test_requests_are_read_as_said(request_text, seconds, what):
    assert parse_request(request_text) == (seconds, what)


def test_requests_without_a_time_or_too_far_are_refused():
    for text in ("remind me to stretch", "remind me in some seconds to x", "remind me in ninety hours to x"):
        with pytest.raises(ToolError):
            parse_request(text)


def test_reminder_words_and_delay():
    assert reminder_summary("to check the logs.") == "time to check the logs."
    assert reminder_summary("  commit   this ") == "time to commit this."
    assert reminder_summary("") == "time's up."
    assert reminder_summary("about the build") == "a reminder about the build."
    assert reminder_delay(12) == 12 - RELAY_LEAD_S and reminder_delay(0.5) == 0.0
