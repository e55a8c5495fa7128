"""The remind tool: a real BackgroundAgent job that becomes the reminder, as a result, on time,
without holding a slot the tests need."""

from __future__ import annotations

import asyncio
import time

import pytest

from benchmarks.sample_project import make_sample_project
from companion.agent.background import BackgroundAgent
from companion.agent.reminders import RELAY_LEAD_S, reminder_delay, reminder_summary
from companion.core.events import JobEvent
from tools.registry import CallError


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
    job = agent.submit_call('{"tool": "remind", "args": {"seconds": 2, "what": "stand up"}}', {})
    assert await agent.wait(job) == "done"
    took = time.monotonic() - t0
    assert 2 - RELAY_LEAD_S - 0.05 <= took < 2 - RELAY_LEAD_S + 0.5
    result = [e for e in agent.events_seen if e.job_id == job][-1]
    assert (result.phase, result.summary) == ("result", "time to stand up.")
    assert result.data["seconds"] == 2 and result.data["what"] == "stand up"


async def test_a_waiting_reminder_does_not_hold_up_the_tests(agent):
    remind = agent.submit_call('{"tool": "remind", "args": {"seconds": 30, "what": "push"}}', {})
    tests = agent.submit_call('{"tool": "tests", "args": {"scope": "all"}}', {})
    assert await asyncio.wait_for(agent.wait(tests), 60) == "done"  # one slot, and the tests got it
    assert agent.cancel(remind)
    assert await agent.wait(remind) == "cancelled"


def test_a_reminder_needs_seconds_and_what(agent):
    with pytest.raises(CallError):
        agent.registry.parse_call('{"tool": "remind", "args": {"what": "stand up"}}')
    with pytest.raises(CallError):
        agent.registry.parse_call('{"tool": "remind", "args": {"seconds": 0, "what": "x"}}')


def test_reminder_words_and_delay():
    assert reminder_summary("to check the logs.") == "time to check the logs."
    assert reminder_summary("  commit   this ") == "time to commit this."
    assert reminder_summary("") == "time's up."
    assert reminder_delay(12) == 12 - RELAY_LEAD_S and reminder_delay(0.5) == 0.0
