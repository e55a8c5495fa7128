"""The background agent as a stage: FileChanged events in, JobEvents out, on the sample project
with real pytest runs. A burst of saves is one run; a failure is said once (repeats are silent);
a recovery is said once ("passes again"), and never again while the tests stay green."""

from __future__ import annotations

import pytest

from benchmarks.sample_project import fix_bug, make_sample_project
from companion.agent.background import BackgroundAgent
from companion.core.events import FileChanged, JobEvent
from tests.harness.stage_harness import StageHarness
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

pytestmark = pytest.mark.timeout(60)

TESTS_ONLY = OnSaveConfig(rules=(OnSaveRule(("*.py",), tests="affected", lint=False),),
                          tests=TestsConfig(full_suite_after=False))


@pytest.fixture
async def stage(tmp_path):
    project = make_sample_project(tmp_path / "proj")
    harness = StageHarness()
    agent = BackgroundAgent(project, harness.emit, config=TESTS_ONLY, clock=harness.clock.now)
    saves: list[FileChanged] = []
    harness.attach(saves.append)

    async def saved(*events: FileChanged) -> list[JobEvent]:
        """A burst of saves reaches the agent as one batch (as the runtime hands it over);
        returns the results of the jobs it started."""
        harness.play([(e.t, e) for e in events])
        batch, saves[:] = [(e.path, e.diff) for e in saves], []
        jobs = agent.on_files_saved(batch)
        await agent.wait_idle()
        return [next(e for e in reversed(harness.of(JobEvent)) if e.job_id == job)
                for job in jobs]

    try:
        yield project, harness, saved
    finally:
        await agent.aclose()


def change(t: float, path: str) -> FileChanged:
    return FileChanged(t, path, "modified", f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-x\n+y\n")


async def test_a_failure_is_said_once_and_its_recovery_once(stage):
    project, harness, saved = stage
    [first] = await saved(change(0.0, "parse.py"), change(0.05, "util.py"),
                          change(0.1, "parse.py"))  # one burst: one run for all of it
    assert first.phase == "result" and first.data["changed"] == ["parse.py", "util.py"]
    assert first.summary.startswith("two tests fail; parse_header raises IndexError")
    [repeat] = await saved(change(1.0, "parse.py"))
    assert repeat.summary == "" and len(repeat.data["repeated_failures"]) == 2
    fix_bug(project)
    [fixed] = await saved(change(2.0, "parse.py"))
    assert fixed.summary == "test_header and test_single_field pass again"
    [green] = await saved(change(3.0, "parse.py"))
    assert green.summary == "" and green.data["recovered"] == []
    assert all(e.t in (0.1, 1.0, 2.0, 3.0) for e in harness.of(JobEvent))  # the stage's clock
    started = [e for e in harness.of(JobEvent) if e.phase == "started"]
    assert len(started) == 4

