"""Ignored means never read, by any tool; paths outside the repository get one uniform answer;
test paths can only ever be read as paths (real git, real pytest)."""

from __future__ import annotations

import pytest

from benchmarks.sample_project import git
from companion.core.ignore import IgnoreRules
from tools import git_ops
from tools.registry import ToolError
from tools.test_runner import TestsConfig, pytest_argv, run_tests

SECRET_LINE = "PLANS = 'merger with acme in march'\n"


@pytest.fixture
def private_file(sample_project):
    """A tracked file the user then lists in .companionignore, with an uncommitted change."""
    (sample_project / "private.py").write_text("PLANS = None\n")
    git(sample_project, "add", "private.py")
    git(sample_project, "commit", "-qm", "add private")
    (sample_project / ".companionignore").write_text("private.py\n")
    (sample_project / "private.py").write_text(SECRET_LINE)
    (sample_project / "util.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    return sample_project


def test_diff_never_reads_a_companionignored_file(private_file):
    repo = git_ops.open_repo(private_file)
    result = git_ops.diff(repo)
    assert "merger" not in result["text"] and "upper() + '!'" in result["text"]
    assert [f["path"] for f in result["files"]] == ["util.py"]
    assert result["ignored_files"] == 1
    with pytest.raises(ToolError, match="^diff: private.py is ignored"):
        git_ops.diff(repo, paths=["private.py"])


def test_show_blame_and_log_never_read_a_companionignored_file(private_file):
    repo = git_ops.open_repo(private_file)
    git(private_file, "commit", "-qam", "plans and shouting")
    shown = git_ops.show(repo, "HEAD")
    assert "merger" not in shown["text"] and "upper()" in shown["text"]
    assert [f["path"] for f in shown["files"]] == ["util.py"] and shown["ignored_files"] == 1
    with pytest.raises(ToolError, match="^blame: private.py is ignored"):
        git_ops.blame(repo, "private.py", 1, 1)
    with pytest.raises(ToolError, match="^log: private.py is ignored"):
        git_ops.log(repo, path="private.py")


def test_core_excludes_file_and_nested_repositories_are_ignored(sample_project, tmp_path):
    excludes = tmp_path / "global-ignore"
    excludes.write_text("*.notes\n")
    git(sample_project, "config", "core.excludesFile", str(excludes))
    nested = sample_project / "vendor" / "other"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    (nested / "keys.py").write_text("KEY = 1\n")
    (sample_project / "meeting.notes").write_text("private\n")
    rules = IgnoreRules(sample_project)
    assert rules.is_ignored("meeting.notes")
    assert rules.is_ignored("vendor/other/keys.py") and rules.is_ignored("vendor/other", is_dir=True)
    assert not rules.is_ignored("parse.py")
    walked = set(rules.walk_files())
    assert "parse.py" in walked and not walked & {"meeting.notes", "vendor/other/keys.py"}
    repo = git_ops.open_repo(sample_project)
    with pytest.raises(ToolError, match="is ignored"):
        git_ops.blame(repo, "vendor/other/keys.py", 1, 1)


@pytest.mark.parametrize("tool", ["log", "blame", "diff"])
def test_outside_the_repository_is_one_answer_whether_or_not_the_file_exists(
        sample_project, tmp_path, tool):
    (tmp_path / "exists.txt").write_text("outside\n")
    (sample_project / "link").symlink_to(tmp_path)  # a symlink inside that points outside
    repo = git_ops.open_repo(sample_project)
    call = {"log": lambda p: git_ops.log(repo, path=p),
            "blame": lambda p: git_ops.blame(repo, p, 1, 1),
            "diff": lambda p: git_ops.diff(repo, paths=[p])}[tool]
    answers = {}
    for path in ("../exists.txt", "../missing.txt", "link/exists.txt", "link/missing.txt",
                 "../../../../../../etc/passwd", str(tmp_path / "exists.txt")):
        with pytest.raises(ToolError) as caught:
            call(path)
        answers[path] = str(caught.value).replace(path, "PATH")
        assert "GitCommandError" not in answers[path] and "cmdline" not in answers[path]
    assert set(answers.values()) == {f"{tool}: PATH is outside the repository"}


def test_test_paths_are_never_options_or_argument_files():
    argv = pytest_argv(TestsConfig(), "/tmp/r.xml", ["@args.txt", "-p", "tests/a.py", "/abs/t.py"])
    assert argv[-4:] == ["./@args.txt", "./-p", "./tests/a.py", "/abs/t.py"]


async def test_a_real_pytest_run_reads_an_at_path_as_a_test_file(sample_project):
    """pytest reads `@file` as a file of arguments; `./@…` is the test directory it names."""
    at_dir = sample_project / "@suite"
    at_dir.mkdir()
    (at_dir / "test_at.py").write_text(
        "def test_at():\n    assert __file__.endswith(\"test_at.py\")\n")
    # were "@suite/test_at.py" read as an argument file, its lines would become pytest options
    run = await run_tests(sample_project, TestsConfig(), selected=["@suite/test_at.py"],
                          scope="paths")
    assert run.exit_code == 0 and run.report is not None
    assert run.report.passed == ("@suite/test_at.py::test_at",)


async def test_lint_and_tests_never_read_an_ignored_file(private_file):
    from companion.agent.tool_jobs import ToolJobs
    from tools.on_save import OnSaveConfig
    jobs = ToolJobs(private_file, OnSaveConfig())
    with pytest.raises(ToolError, match="^private.py is ignored"):
        await jobs.lint({"paths": ["private.py"]}, {}, everything=True)
    # the user's own context (the file on screen) is left out instead
    assert jobs.context_paths({}, {"file": str(private_file / "private.py")}) == []
    assert jobs.context_paths({}, {"file": "util.py"}) == ["util.py"]


async def test_linting_everything_reports_nothing_from_an_ignored_file(private_file):
    from companion.agent.tool_jobs import ToolJobs
    from tools.on_save import OnSaveConfig
    (private_file / "private.py").write_text("import os\nPLANS = 'merger'\n")  # F401 unused
    (private_file / "util.py").write_text("import sys\n")  # F401 too, not ignored
    outcome = await ToolJobs(private_file, OnSaveConfig()).lint({}, {}, everything=True)
    files = {f["file"] for f in outcome.data["findings"]}
    assert "util.py" in files and "private.py" not in files
