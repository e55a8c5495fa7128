"""Training's job input is the live product's: the same save gives the same JobEvents (ids,
tools, phases, summaries, status words) from the simulator as from a real BackgroundAgent, and
training serializes them exactly as the live TurnLoop sends them under protocol 2."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from companion.agent.background import BackgroundAgent
from companion.core.clock import MicroTurnClock
from companion.core.protocol import Chunk, job_status
from companion.model.session_client import TurnResult
from companion.model.turn_loop import TurnLoop
from companion.streams.file_content import FileContent, describe_change
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.data import turn_text
from model_server.training.v2.oracle import SILENCE
from model_server.training.v2.session_records import Turn
from model_server.training.v2.sessions import SessionSim
from tools.on_save import OnSaveConfig
from tools.test_runner import TestsConfig


class _Client:
    """Records what TurnLoop sends; answers silence (a stand-in server, this test only)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def generate(self, text, *, features=None, max_new_tokens=8, ebnf=None, **_):
        self.texts.append(text)
        return TurnResult(text="<|silence|><|end|>", output_ids=[], prompt_tokens=0,
                          completion_tokens=0, cached_tokens=0, finish_reason=None,
                          latency_ms=1.0, meta={})


class _V2Link:
    """The model link as TurnLoop reads it: a protocol-2 server, text only or features."""

    protocol = 2
    logit_bias = None  # no decision calibration shipped

    def __init__(self, features: bool) -> None:
        self.accepts_features, self.client = features, _Client()


def _live_text(chunk: Chunk, features: bool) -> str:
    """The text the live TurnLoop.step sends the server for this chunk."""
    link = _V2Link(features)
    loop = TurnLoop(MicroTurnClock(), link, lambda e: None,
                           prefix=lambda: "<|system|>p<|end|>")
    asyncio.run(loop.step(chunk))
    return link.client.texts[-1]


async def _agent_events(root, project, mutant) -> list:
    """The live agent's events for the clean save then the mutant's, each save given its
    FileChanged diff as the runtime passes it (so failures are pinned on the changed line)."""
    events = []
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    agent = BackgroundAgent(root, events.append, config=OnSaveConfig(tests=TestsConfig(env=env)))
    before = None
    for version in (project.clean.source, mutant.source):  # the sim starts after the clean save
        (root / f"{project.name}.py").write_text(version)
        change = describe_change(0.0, f"{project.name}.py", before, FileContent.of_text(version))
        before = FileContent.of_text(version)
        agent.on_file_saved(root / f"{project.name}.py", change.diff)
        await agent.wait_idle()
    await agent.aclose()
    return events


def _by_job(events) -> dict[str, list]:
    jobs = defaultdict(list)
    for e in events:
        jobs[e.job_id].append(e)
    return dict(jobs)


@pytest.mark.parametrize("failing", [True, False])
def test_simulated_save_emits_the_agents_job_events(tmp_path, failing):
    project, mutant = next((p, v) for p in load_projects(split="train", limit=8)
                           for v in p.mutants if bool(v.run.failures) == failing)
    (tmp_path / f"test_{project.name}.py").write_text(project.test_source)
    live = asyncio.run(_agent_events(tmp_path, project, mutant))
    live = [e for e in live if e.job_id not in ("job-1", "job-2")]  # the clean save's jobs

    sim = SessionSim(1, [project], 80)
    sim.jobs_made = 2  # the live agent's clean save used job-1 and job-2
    sim.save(5, project, mutant)
    generated = [e for tick in sorted(sim.jobs) for e in sim.jobs[tick]]

    live_jobs, sim_jobs = _by_job(live), _by_job(generated)
    assert sorted(live_jobs) == sorted(sim_jobs) == ["job-3", "job-4"]
    for job in live_jobs:
        want = [(e.tool, e.phase, e.summary, job_status(e)) for e in live_jobs[job]]
        got = [(e.tool, e.phase, e.summary, job_status(e)) for e in sim_jobs[job]]
        assert got == want, job
        for live_event, sim_event in zip(live_jobs[job], sim_jobs[job], strict=True):
            for features in (False, True):
                turn = Turn(Chunk(tick=62, t=12.4, jobs=(sim_event,)), SILENCE, "event", -1)
                training_input = turn_text(turn, features=features)[0].text
                live_chunk = Chunk(tick=62, t=12.4, jobs=(live_event,))
                assert training_input == _live_text(live_chunk, features), (job, features)
    result = sim_jobs["job-3"][-1]
    assert result.phase == "result" and job_status(result) == ("failed" if failing else "done")
    if failing:  # the save's diff reached localization: the failure is pinned on the edit
        assert result.summary.endswith("changed just now") or ", changed just now;" in result.summary
    assert f"<|tool|>j3 {'failed' if failing else 'done'}" in turn_text(
        Turn(Chunk(tick=1, t=0.2, jobs=(result,)), SILENCE, "event", -1), features=True)[0].text


def test_a_requested_git_read_arrives_the_turn_after_the_call_as_live():
    """Live, a git read's start and result reach the model together in the turn after its call
    (git status takes about 10 ms); the simulator used to put the result 1-5 turns after its
    start, and the shipped model learned not to relay one that came with its start."""
    sim = SessionSim(5, load_projects(split="train", limit=1), 300)
    calls = range(10, 210, 10)
    for k in calls:
        sim.agent.call_result(k, "git_status", {})
    ticks = defaultdict(dict)
    for k, events in sim.jobs.items():
        for e in events:
            ticks[e.job_id][e.phase] = k
    got = [(ticks[job]["started"] - k, ticks[job]["result"] - k)
           for job, k in zip(sorted(ticks, key=lambda j: int(j.split("-")[1])), calls, strict=True)]
    assert {s for s, _ in got} == {1}
    assert {r for _, r in got} <= {1, 2} and sum(r == 1 for _, r in got) >= len(got) // 2, got
