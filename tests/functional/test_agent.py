"""The background agent on real repositories and real pytest runs: saves, delegations, dedup."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from benchmarks.sample_project import fix_bug, make_sample_project, plant_bug
from companion.agent.background import BackgroundAgent
from companion.core.events import JobEvent
from companion.streams.file_content import FileContent, describe_change
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

TESTS_ONLY = (OnSaveRule(("*.py",), tests="affected", lint=False),)

# a test that reports its pid (and its own child's) and then hangs while a marker file exists
SLOW_TEST = """import os, subprocess, sys, time
from parse import parse_header


def test_slow():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open("pids.txt", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    while os.path.exists("SLOW"):
        time.sleep(0.05)
    child.kill()
"""


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def eventually(predicate, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


class Recorder:
    """A sink that keeps every event (and checks each is JSON-serializable, as the model needs)."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def __call__(self, event: JobEvent) -> None:
        json.dumps(event.data)
        self.events.append(event)

    def of(self, job_id: str, phase: str | None = None) -> list[JobEvent]:
        return [
            e for e in self.events if e.job_id == job_id and (phase is None or e.phase == phase)
        ]

    def last(self, job_id: str) -> JobEvent:
        return self.of(job_id)[-1]


@pytest.fixture
def project(tmp_path) -> Path:
    return make_sample_project(tmp_path / "proj")


@pytest.fixture
async def make_agent():
    """BackgroundAgent(...), closed after the test (its warm pytest worker stops with it)."""
    made: list[BackgroundAgent] = []

    def make(*args, **kwargs) -> BackgroundAgent:
        made.append(BackgroundAgent(*args, **kwargs))
        return made[-1]

    yield make
    for agent in made:
        await agent.aclose()


async def test_failure_is_said_once_and_recovery_once(project, make_agent):
    sink = Recorder()
    config = OnSaveConfig(rules=TESTS_ONLY, tests=TestsConfig(full_suite_after=True))
    agent = make_agent(project, sink, config=config)

    # the model delegates; the context says which file the user is on
    context = {"turn": 42, "file": "parse.py", "conversation": ["user: why does parse fail?"]}
    job = agent.submit_call('{"tool": "tests", "args": {"scope": "affected"}}', context)
    assert await agent.wait(job) == "done"
    phases = [e.phase for e in sink.of(job)]
    assert phases[0] == "started" and phases[-1] == "result" and "progress" in phases
    result = sink.last(job)
    assert result.data["selected"] == ["tests/test_parse.py"]
    header = next(f for f in result.data["failures"] if f["test_id"].endswith("::test_header"))
    assert (header["file"], header["line"], header["exc_type"]) == ("parse.py", 7, "IndexError")
    # values and the line first; the second failure is only named
    assert result.summary == (
        "two tests fail; parse_header raises IndexError: list index out of range, "
        "parse.py line 7; also test_single_field"
    )
    assert result.data["context_ref"] == {
        "job_id": job,
        "turn": 42,
        "file": "parse.py",
        "said": "user: why does parse fail?",
    }
    last_progress = sink.of(job, "progress")[-1]
    assert last_progress.summary == "2 of 2 tests done, 2 failed"
    assert {k: last_progress.data[k] for k in ("done", "total", "failed")} == {
        "done": 2,
        "total": 2,
        "failed": 2,
    }

    # saving without fixing: the same failures are not announced again
    [again] = agent.on_file_saved(project / "parse.py")
    await agent.wait_idle()
    assert sink.last(again).phase == "result" and sink.last(again).summary == ""
    assert len(sink.last(again).data["repeated_failures"]) == 2

    # the fix: both tests pass again, said once; then the configured full suite runs quietly
    fix_bug(project)
    [fixed] = agent.on_file_saved("parse.py")
    await agent.wait_idle()
    assert sink.last(fixed).summary == "test_header and test_single_field pass again"
    later = [e for e in sink.events if e.phase == "result" and e.job_id not in (job, again, fixed)]
    assert [e.data["scope"] for e in later] == ["all"]
    assert later[0].data["counts"] == {"passed": 3, "failed": 0, "skipped": 0}
    assert later[0].summary == ""

    # the bug comes back: announced anew
    plant_bug(project)
    [broken] = agent.on_file_saved("parse.py")
    await agent.wait_idle()
    assert sink.last(broken).summary.startswith("two tests fail; parse_header raises IndexError")


async def test_hanging_test_is_killed_with_its_whole_process_group(project, make_agent):
    (project / "tests" / "test_slow.py").write_text(SLOW_TEST)
    (project / "SLOW").write_text("")
    sink = Recorder()
    agent = make_agent(project, sink, config=OnSaveConfig(tests=TestsConfig(timeout_s=15)))
    job = agent.submit("tests", {"scope": "affected", "paths": ["tests/test_slow.py"]})
    assert await agent.wait(job) == "error"
    error = sink.last(job)
    # the stack dumped just before the kill names the line the test was spinning on (15 s: the
    # inner pytest must get as far as the test even on a loaded machine)
    assert error.summary == (
        "test_slow hangs: stopped after 15 seconds, spinning at test_slow.py line 10, in test_slow"
    )
    assert error.data["hang"]["location"]["line"] == 10
    assert error.data["timed_out"] is True
    test_pid, child_pid = map(int, (project / "pids.txt").read_text().split())
    await eventually(lambda: not pid_alive(test_pid) and not pid_alive(child_pid), 5)


async def test_a_newer_save_cancels_the_stale_run(project, make_agent):
    (project / "tests" / "test_slow.py").write_text(SLOW_TEST)
    (project / "SLOW").write_text("")
    sink = Recorder()
    agent = make_agent(project, sink, config=OnSaveConfig(rules=TESTS_ONLY))
    [stale] = agent.on_file_saved("parse.py")
    await eventually(lambda: (project / "pids.txt").exists())
    test_pid, child_pid = map(int, (project / "pids.txt").read_text().split())
    os.remove(project / "SLOW")
    [fresh] = agent.on_file_saved("util.py")
    await agent.wait_idle()
    cancelled = sink.last(stale)
    assert cancelled.phase == "cancelled"
    assert cancelled.summary == "tests superseded by a newer save"
    assert not pid_alive(test_pid) and not pid_alive(child_pid)
    # the fresh run covers both saves: parse.py's tests were never finished
    assert sink.last(fresh).data["changed"] == ["parse.py", "util.py"]
    assert sink.last(fresh).data["selected"] == [
        "tests/test_parse.py",
        "tests/test_slow.py",
        "tests/test_util.py",
    ]
    states = {j.job_id: j.state for j in agent.list_jobs()}
    assert states == {stale: "cancelled", fresh: "done"}


async def test_lint_on_save_announces_new_findings_once(project, make_agent):
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + "\n[tool.ruff.lint]\nselect = ['F']\n"
    )
    sink = Recorder()
    rules = (OnSaveRule(("*.py",), tests="none", lint=True),)
    agent = make_agent(project, sink, config=OnSaveConfig(rules=rules))
    (project / "util.py").write_text("import os\n\n\ndef shout(text):\n    return text\n")
    [first] = agent.on_file_saved(project / "util.py")
    await agent.wait_idle()
    assert sink.last(first).summary == (
        "one new lint finding in util.py: os imported but unused at util.py line 1"
    )
    assert sink.last(first).data["findings"][0]["code"] == "F401"
    [second] = agent.on_file_saved(project / "util.py")
    await agent.wait_idle()
    assert sink.last(second).summary == "" and sink.last(second).data["count"] == 1
    (project / "util.py").unlink()
    assert agent.on_file_saved(project / "util.py") == []  # a deleted file has nothing to lint
    assert agent.on_file_saved(project / "README.md") == []  # no rule matches


async def test_lint_on_save_names_a_print_the_save_added_not_one_already_there(project, make_agent):
    """The on-save lint also looks for debugging leftovers (ruff's T201, FIX002), on the lines the
    save added only: the print the project already had is its own; the one just added is named
    first, before a style finding."""
    sink = Recorder()
    rules = (OnSaveRule(("*.py",), tests="none", lint=True),)
    agent = make_agent(project, sink, config=OnSaveConfig(rules=rules))
    path = project / "report.py"
    before = "def show(rows):\n    print(len(rows))\n    return rows\n"
    path.write_text(before)
    [first] = agent.on_file_saved(path, "")  # a file the companion did not see change
    await agent.wait_idle()
    assert sink.last(first).summary == "" and sink.last(first).data["count"] == 0
    after = "import os\n\n\ndef show(rows):\n    print(len(rows))\n    # TODO: sort them\n    print(rows)\n    return rows\n"
    path.write_text(after)
    change = describe_change(1.0, "report.py", FileContent.of_text(before), FileContent.of_text(after))
    [second] = agent.on_file_saved(path, change.diff)
    await agent.wait_idle()
    result = sink.last(second)
    assert sorted((f["code"], f["line"]) for f in result.data["findings"]) == [
        ("F401", 1), ("FIX002", 6), ("T201", 7)]
    assert result.summary == "three new lint findings in report.py: Line contains TODO, consider " \
                             "resolving the issue at report.py line 6"
    assert result.data["new_codes"] == ["F401", "FIX002", "T201"]  # what the rules may let be said
    [third] = agent.on_file_saved(path, "")  # saved again unchanged: nothing new, none of its own
    await agent.wait_idle()
    assert sink.last(third).summary == "" and sink.last(third).data["new_codes"] == []
    assert {f["code"] for f in sink.last(third).data["findings"]} == {"F401"}
    # the lint the user asks for agrees with what the save's lint said: the leftovers saved this
    # session are still there (never "lint is clean"), the project's own print is still not
    asked = agent.submit("lint", {})
    await agent.wait(asked)
    result = sink.last(asked)
    assert sorted((f["code"], f["line"]) for f in result.data["findings"]) == [
        ("F401", 1), ("FIX002", 6), ("T201", 7)]
    assert result.summary.startswith("three lint findings in report.py: Line contains TODO")
