"""Reminders in the training sessions are what the live product does: the request is the remind
call, which copies the request as the recognizer gave it; the job reads it as the live agent does,
its result arrives when the live agent's clock says, with its words, and the oracle relays it
then. The relayed summary is the live agent's (companion/agent/reminders.py)."""

from __future__ import annotations

import pytest

from companion.agent.reminders import parse_request, reminder_delay, reminder_summary
from companion.core.protocol import job_ref
from model_server.training.v2 import episodes, lines
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.sessions import SessionSim
from tools.catalog import default_registry
from tools.registry import ToolError


@pytest.fixture(scope="module")
def session_with_reminders():
    projects = load_projects(split="train", limit=2)
    weights = dict(episodes.WEIGHTS)
    episodes.WEIGHTS.clear()
    episodes.WEIGHTS.update({"reminder": 1, "idle": 1})  # reminders and quiet only
    try:
        sim = SessionSim(7, projects, 600)
        return sim, sim.run(features=False)
    finally:
        episodes.WEIGHTS.clear()
        episodes.WEIGHTS.update(weights)


def test_every_reminder_line_is_a_valid_remind_call_the_agent_reads_right():
    registry = default_registry()
    for (text, tool, args), (_, seconds, what) in zip(lines.REMINDER_REQUESTS, lines.REMINDERS, strict=True):
        assert registry.get(tool).validate(args) == args == {"request": text}
        assert parse_request(text) == (seconds, what)


def test_a_reminder_is_called_then_relayed_when_its_job_says(session_with_reminders):
    sim, session = session_with_reminders
    calls = [(k, t) for k, t in enumerate(session.turns) if t.act.kind == "call"]
    assert calls and all(t.act.tool == "remind" for _, t in calls)
    relayed = misheard = 0
    heard = {words for ws in sim.words.values() for words in (w.text for w in ws)}
    for k, turn in calls:
        request = turn.act.args["request"]
        assert request in heard  # a copy of words in the input, not the script's text
        try:
            seconds, what = parse_request(request)
        except ToolError as exc:  # misheard: the agent's error is the result, at once, as live
            errors = [e for e in session.turns[k + 1].chunk.jobs if e.tool == "remind" and e.phase != "started"]
            assert [(e.phase, e.summary) for e in errors] == [("error", str(exc))]
            misheard += 1
            continue
        due = k + 1 + max(1, round(reminder_delay(seconds) / 0.2))
        if due >= len(session.turns) - 3:
            continue  # past the session's end
        results = [e for e in session.turns[due].chunk.jobs if e.tool == "remind" and e.phase == "result"]
        assert [e.summary for e in results] == [reminder_summary(what)]
        job = results[0].job_id
        relay_at = next((i for i, t in enumerate(session.turns)
                         if t.act.kind == "relay" and t.act.job == job_ref(job)), len(session.turns))
        assert due <= relay_at
        # relayed at the first turn when the user is not speaking and nothing plays or is due
        # first; one still waiting at the session's end waited behind such turns only
        assert all(session.turns[i].tag not in ("quiet", "event") for i in range(due, relay_at))
        relayed += relay_at < len(session.turns)
    assert relayed >= 2 and relayed > misheard


def test_a_typed_reminder_copies_the_typed_line():
    projects = load_projects(split="train", limit=2)
    weights = dict(episodes.WEIGHTS)
    episodes.WEIGHTS.clear()
    episodes.WEIGHTS.update({"typed_request": 1, "idle": 1})
    try:
        session = SessionSim(11, projects, 600).run(features=False)
    finally:
        episodes.WEIGHTS.clear()
        episodes.WEIGHTS.update(weights)
    typed = {t.text for turn in session.turns for t in turn.chunk.typed}
    reminds = [t.act.args["request"] for t in session.turns if t.act.kind == "call" and t.act.tool == "remind"]
    assert reminds and all(r in typed for r in reminds)
