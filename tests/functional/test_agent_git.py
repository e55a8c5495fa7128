"""The agent's git jobs, bad calls and concurrency, on real repositories."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from benchmarks.sample_project import fix_bug, git, make_sample_project
from companion.agent.background import BackgroundAgent


class Recorder(list):
    """A sink that keeps every event (and checks each is JSON-serializable, as the model needs)."""

    def __call__(self, event) -> None:
        json.dumps(event.data)
        self.append(event)

    def last(self, job_id: str):
        return [e for e in self if e.job_id == job_id][-1]


@pytest.fixture
def project(tmp_path):
    return make_sample_project(tmp_path / "proj")


def start_conflicting_merge(root) -> None:
    git(root, "switch", "-q", "-c", "other")
    (root / "util.py").write_text("other\n")
    git(root, "commit", "-qam", "other side")
    git(root, "switch", "-q", "main")
    (root / "util.py").write_text("main\n")
    git(root, "commit", "-qam", "main side")
    merge = subprocess.run(["git", "merge", "other"], cwd=root, capture_output=True, check=False)
    assert merge.returncode != 0


def head(root) -> str:
    return git(root, "rev-parse", "HEAD").strip()


async def test_commit_waits_for_confirmation_and_then_makes_exactly_that_commit(project):
    sink = Recorder()
    agent = BackgroundAgent(project, sink)
    fix_bug(project)
    (project / "util.py").write_text("# changed too, not part of the commit\n")
    before = head(project)
    call = {"tool": "git_commit", "args": {"message": "fix off-by-one", "paths": ["parse.py"]}}

    denied = agent.submit_call(json.dumps(call), {"turn": 7})
    await agent.wait(denied)
    ask = sink.last(denied)
    assert ask.phase == "needs_confirmation" and ask.data["confirmation_id"] == denied
    assert ask.data["preview"]["stat"] == "1 file changed, +1 -1"
    assert ask.summary == 'ready to commit 1 file on main: "fix off-by-one". Confirm?'
    await asyncio.sleep(0.2)
    assert head(project) == before  # nothing happens without a confirm
    assert agent.deny(denied)
    assert sink.last(denied).phase == "cancelled"
    assert not agent.confirm(denied)  # a denied change cannot be confirmed later
    assert head(project) == before

    job = agent.submit_call(json.dumps(call), {"turn": 8})
    await agent.wait(job)
    assert agent.confirm(job)
    assert await agent.wait(job) == "done"
    done = sink.last(job)
    assert done.phase == "result" and done.summary.startswith("committed ")
    assert done.summary.endswith(": fix off-by-one")
    assert done.data["context_ref"] == {"job_id": job, "turn": 8}
    assert git(project, "rev-parse", "HEAD~1").strip() == before
    assert git(project, "log", "-1", "--format=%s").strip() == "fix off-by-one"
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["parse.py"]
    assert git(project, "status", "--porcelain").strip() == "M util.py"
    assert not agent.confirm(job)  # confirming twice does nothing
    assert not agent.confirm("job-999")


async def test_bad_calls_become_error_events(project):
    sink = Recorder()
    agent = BackgroundAgent(project, sink)
    cases = {
        "not json": ("call", "call is not valid JSON"),
        '{"tool": "shell", "args": {"cmd": "rm -rf /"}}': ("shell", "unknown tool 'shell'"),
        '{"tool": "git_blame", "args": {"path": "parse.py", "start": "one"}}': (
            "git_blame",
            "git_blame: argument 'start' must be integer, got string",
        ),
    }
    for text, (tool, message) in cases.items():
        job = agent.submit_call(text, {})
        event = sink.last(job)
        assert (event.phase, event.tool) == ("error", tool)
        assert message in event.summary and event.data["error"] == event.summary
    assert agent.submit("nope") and sink[-1].summary.startswith("unknown tool 'nope'")
    job = agent.submit("lint", {"paths": ["../../etc/passwd"]})
    assert await agent.wait(job) == "error"
    assert sink.last(job).summary == "path outside the repository: ../../etc/passwd"
    assert {j.state for j in agent.list_jobs()} == {"error"}


async def test_outside_a_repository_git_says_so(tmp_path):
    sink = Recorder()
    agent = BackgroundAgent(tmp_path, sink)
    for tool in ("git_status", "git_commit"):
        args = {"message": "m"} if tool == "git_commit" else {}
        job = agent.submit(tool, args)
        assert await agent.wait(job) == "error"
        assert sink.last(job).summary == f"not a git repository: {tmp_path.resolve()}"


async def test_detached_head_and_merge_conflict_are_reported_in_words(project):
    sink = Recorder()
    agent = BackgroundAgent(project, sink)
    start_conflicting_merge(project)
    job = agent.submit("git_status")
    await agent.wait(job)
    assert sink.last(job).summary == "on main, merge in progress: one conflicted file"
    job = agent.submit("git_commit", {"message": "merge"})
    await agent.wait(job)
    assert sink.last(job).summary.startswith(
        "cannot commit: merge in progress with unresolved conflicts in util.py"
    )
    git(project, "merge", "--abort")
    git(project, "checkout", "-q", "--detach", "HEAD")
    job = agent.submit("git_status")
    await agent.wait(job)
    assert sink.last(job).summary.startswith("detached HEAD at ")


async def test_jobs_respect_the_concurrency_limit_and_can_be_cancelled(project):
    sink = Recorder()
    agent = BackgroundAgent(project, sink, max_concurrent=1)
    first = agent.submit("git_log", {"n": 3})
    second = agent.submit("git_diff", {"ref": "HEAD"})
    third = agent.submit("git_status")
    assert agent.cancel(third)  # still queued behind the limit
    await agent.wait_idle()
    order = [(e.job_id, e.phase) for e in sink if e.job_id != third]
    assert order == [(first, "started"), (first, "result"), (second, "started"), (second, "result")]
    assert [e.phase for e in sink if e.job_id == third] == ["cancelled"]
    assert sink.last(first).summary == (
        "latest of one commit: sample project with a planted bug, by Sample Dev"
    )
    assert sink.last(second).summary == "no changes"
    assert not agent.cancel(first)  # finished jobs cannot be cancelled
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        BackgroundAgent(project, sink, max_concurrent=0)
