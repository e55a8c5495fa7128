"""Localization and values on real pytest runs: a save, the agent's tests job, what it says."""

from __future__ import annotations

import difflib
import subprocess
import textwrap
from pathlib import Path

import pytest

from companion.agent.background import BackgroundAgent
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

STATS = textwrap.dedent('''\
    """Small statistics."""


    def ordered(xs):
        return sorted(xs)


    def median(xs):
        s = ordered(xs)
        return s[len(s) // 2]


    def mean(xs):
        return sum(xs) / len(xs)


    def spread(xs):
        total = 0
        while total < 10:
            total += max(xs) - min(xs)
        return total
    ''')
TESTS = textwrap.dedent('''\
    from stats import mean, median, spread


    def test_median_odd():
        assert median([3, 1, 2]) == 2


    def test_mean():
        assert mean([1, 2, 3]) == 2


    def test_spread():
        assert spread([1, 4]) == 12
    ''')


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "stats_project"
    (root / "tests").mkdir(parents=True)
    (root / "stats.py").write_text(STATS)
    (root / "tests" / "test_stats.py").write_text(TESTS)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


async def save(agent: BackgroundAgent, root: Path, old: str, new: str, events: list):
    """Edit stats.py as an editor would and hand the agent the FileChanged diff."""
    path = root / "stats.py"
    before = path.read_text()
    assert old in before
    after = before.replace(old, new)
    path.write_text(after)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "a/stats.py", "b/stats.py"))
    [job] = agent.on_file_saved("stats.py", diff)
    await agent.wait(job)
    return [e for e in events if e.job_id == job][-1]


def make_agent(root: Path, events: list, timeout_s: float = 120) -> BackgroundAgent:
    config = OnSaveConfig(rules=(OnSaveRule(("*.py",), tests="affected", lint=False),),
                          tests=TestsConfig(timeout_s=timeout_s))
    return BackgroundAgent(root, events.append, config=config, warm_tests=False)


async def test_a_wrong_value_from_a_changed_helper_names_the_helper_line(project):
    events: list = []
    agent = make_agent(project, events)
    result = await save(agent, project, "return sorted(xs)", "return sorted(xs)[1:]", events)
    # the helper has returned long before the assert: the traced run of the changed line finds it
    assert result.summary == (
        "median returns 3 for [3, 1, 2], expected 2, stats.py line 5 in ordered, changed just now")
    [failure] = result.data["failures"]
    assert failure["location"]["how"] == "executed"
    assert failure["location"]["source"] == "return sorted(xs)[1:]"
    assert failure["compare_op"] == "=="


async def test_an_exception_on_the_changed_line_is_pinned_there(project):
    events: list = []
    agent = make_agent(project, events)
    result = await save(agent, project, "sum(xs) / len(xs)", "sum(xs) / (len(xs) - 3)", events)
    assert result.summary == (
        "mean raises ZeroDivisionError: division by zero, stats.py line 14, changed just now")
    assert result.data["failures"][0]["location"]["how"] == "changed"


async def test_without_known_changes_the_deepest_project_frame_then_the_test_line(project):
    events: list = []
    agent = make_agent(project, events)
    (project / "stats.py").write_text(STATS.replace("sum(xs) / len(xs)", "sum(xs) / 0"))
    job = agent.submit("tests", {"scope": "all"})
    await agent.wait(job)
    result = [e for e in events if e.job_id == job][-1]
    [failure] = result.data["failures"]
    assert failure["location"]["how"] == "deepest"
    assert (failure["location"]["file"], failure["location"]["line"]) == ("stats.py", 14)
    assert result.summary == "mean raises ZeroDivisionError: division by zero, stats.py line 14"
    (project / "stats.py").write_text(STATS.replace("s[len(s) // 2]", "s[0]"))
    job = agent.submit("tests", {"scope": "all"})
    await agent.wait(job)
    result = [e for e in events if e.job_id == job][-1]
    [failure] = result.data["failures"]
    assert failure["location"]["how"] == "test"
    assert result.summary == ("median returns 1 for [3, 1, 2], expected 2, test_stats.py line 5; "
                              "test_mean passes again")


async def test_a_syntax_error_names_the_line_and_the_token(project):
    events: list = []
    agent = make_agent(project, events)
    result = await save(agent, project, "return s[len(s) // 2]", "return s[len(s) // 2", events)
    [failure] = result.data["failures"]
    assert failure["kind"] == "collection"
    assert failure["location"]["how"] == "syntax" and failure["location"]["line"] == 10
    assert failure["location"]["token"] == "["
    assert result.summary == (
        "syntax error at stats.py line 10 near [: '[' was never closed, changed just now")


async def test_a_hang_names_where_it_was_spinning(project):
    events: list = []
    agent = make_agent(project, events, timeout_s=15)  # the inner pytest must reach the test
    result = await save(agent, project, "total += max(xs) - min(xs)", "total += min(xs) - min(xs)",
                        events)
    assert result.phase == "error"
    assert result.summary.startswith("test_spread hangs: stopped after 15 seconds, spinning at "
                                     "stats.py line ")
    assert result.data["hang"]["location"]["file"] == "stats.py"
    assert result.data["hang"]["location"]["line"] in (19, 20)  # the loop's test or its body
    assert result.summary.endswith(", in spread")
